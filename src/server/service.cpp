#include "server/service.h"

#include <cstdio>
#include <thread>

#include "catalog/catalog.h"
#include "server/api_error.h"
#include "server/catalog_provider.h"
#include "server/foundry_routes.h"
#include "server/ollama_routes.h"
#include "server/openai_routes.h"
#include "server/responses_routes.h"
#include "server/web_routes.h"
#include "web/assets.h"

namespace hearth::server {

Result<std::unique_ptr<Service>> Service::create(ServiceOptions options) {
  std::unique_ptr<Service> service(new Service());
  service->options_ = std::move(options);
  const ServiceOptions& opts = service->options_;

  // Read once: the provider and the routes share this instance for the process's lifetime.
  auto loaded = catalog::Catalog::load(opts.home);
  if (!loaded) {
    std::fprintf(stderr, "hearth serve: the catalog is unusable (%s); only paths will load\n",
                 loaded.error().message.c_str());
    service->catalog_ = std::make_shared<const catalog::Catalog>();
  } else {
    for (const auto& warning : loaded->warnings()) {
      std::fprintf(stderr, "hearth serve: %s\n", warning.c_str());
    }
    service->catalog_ = std::make_shared<const catalog::Catalog>(std::move(*loaded));
  }

  CatalogProviderOptions provider_options;
  provider_options.home = opts.home;
  provider_options.catalog = service->catalog_;
  provider_options.allow_download = opts.allow_download;
  provider_options.scheduler = opts.scheduler;
  provider_options.n_threads = opts.scheduler.n_threads;
  provider_options.n_ctx = opts.scheduler.n_ctx;
  service->provider_ = make_catalog_provider(provider_options, &service->metrics_);
  service->registry_.set_provider(service->provider_, opts.limits);

  for (const auto& model : opts.models) {
    if (auto status = service->load_startup_model(model); !status) {
      return std::unexpected(status.error());
    }
  }
  if (service->registry_.empty()) {
    std::fprintf(
        stderr,
        "hearth serve: no model loaded yet; requests naming a catalog alias load it on demand "
        "(`hearth model list` shows them)\n");
  }

  service->model_files_ =
      std::make_unique<ModelFiles>(service->registry_, service->catalog_, opts.home);

  ModelRouter* model_router = opts.router.get();
  if (model_router) model_router->attach(service->registry_, service->metrics_);
  ResponsesContext responses{&service->registry_, &service->metrics_, model_router, nullptr, {}};
  auto store = ResponseStore::open({opts.home / "responses.sqlite", opts.max_stored_responses});
  if (store) {
    responses.store = std::move(*store);
  } else {
    // The rest of the server does not need it: report, and answer store requests with 503.
    responses.store_problem = store.error().message;
    std::fprintf(stderr, "hearth serve: %s; /v1/responses works only with store: false\n",
                 responses.store_problem.c_str());
  }
  WebRoutesOptions web;
  web.wasm_dir = opts.wasm_dir;
  if (opts.web_ui) {
    auto conversations = ConversationStore::open(opts.home / "conversations.sqlite");
    if (conversations) {
      web.store = std::move(*conversations);
    } else {
      web.store_problem = conversations.error().message;
      std::fprintf(stderr, "hearth serve: %s; the web app cannot keep conversations\n",
                   web.store_problem.c_str());
    }
  }
  // Each listener gets its own Router (a Server owns one); the handlers share the registry,
  // metrics, catalog and response store.
  auto build_router = [&] {
    http::Router router;
    if (model_router) model_router->register_routes(router);
    register_openai_routes(router, service->registry_, service->metrics_, model_router,
                           opts.rag.get(), service->model_files_.get());
    if (opts.rag) opts.rag->register_routes(router);
    register_responses_routes(router, responses);
    register_foundry_routes(
        router, service->registry_,
        {opts.home, service->catalog_,
         "http://" + opts.http.host + ":" + std::to_string(opts.http.port), opts.allow_download});
    OllamaRoutesOptions ollama{opts.home, service->catalog_, opts.allow_download, nullptr};
    if (opts.web_ui) {
      ollama.root_page = web_root;
      register_web_routes(router, web);
    }
    register_ollama_routes(router, service->registry_, service->metrics_, std::move(ollama));
    return router;
  };
  http::ServerOptions http_options = opts.http;
  http_options.allow_loopback_origins = true;  // as Ollama: pages on this machine may call it
  for (auto& path : openai_public_paths()) http_options.public_paths.push_back(std::move(path));
  for (auto& path : ollama_public_paths()) http_options.public_paths.push_back(std::move(path));
  if (opts.web_ui) {
    for (auto& path : web_public_paths()) http_options.public_paths.push_back(std::move(path));
    for (auto& prefix : web_public_prefixes()) {
      http_options.public_prefixes.push_back(std::move(prefix));
    }
  }
  const size_t max_body = http_options.max_body_bytes;
  http_options.render_error = [max_body](const http::TransportError& error) {
    return transport_error_response(error, max_body);
  };
  if (opts.ollama_port >= 0) {
    http::ServerOptions ollama_options = http_options;
    ollama_options.port = opts.ollama_port;
    service->ollama_server_ =
        std::make_unique<http::Server>(std::move(ollama_options), build_router());
  }
  service->server_ = std::make_unique<http::Server>(std::move(http_options), build_router());
  service->metrics_.open_connections = [service = service.get()] {
    int64_t open = service->server_->connections();
    if (service->ollama_server_) open += service->ollama_server_->connections();
    return open;
  };
  return service;
}

Status Service::load_startup_model(const StartupModel& model) {
  std::error_code ec;
  const bool is_file = std::filesystem::is_regular_file(model.spec, ec);
  if (!is_file && model.id.empty()) {
    // A catalog alias or hf:// reference: loaded (and downloaded) like an on-demand model,
    // but kept loaded. Offline with nothing cached, the server still starts.
    auto loaded = registry_.load(model.spec, /*ttl_seconds=*/0);
    if (!loaded) {
      std::fprintf(stderr, "hearth serve: %s is not available: %s\n", model.spec.c_str(),
                   loaded.error().message.c_str());
      std::fprintf(stderr,
                   "hearth serve: serving without it; `hearth model download %s` fetches it\n",
                   model.spec.c_str());
    }
    return ok();
  }
  // A file (or a name given an id): the same provider as on-demand loads, registered without
  // a TTL under the id it was given.
  Result<ModelSource> source = ModelSource{model.spec, model.spec, 0};
  if (is_file) {
    source->file_bytes = std::filesystem::file_size(model.spec, ec);
  } else if (auto located = provider_->locate(model.spec, /*memory_budget=*/0)) {
    source = std::move(*located);
  } else {
    return fail(ErrorKind::kNotFound, located.error().message);
  }
  source->id = !model.id.empty() ? model.id : std::filesystem::path(model.spec).stem().string();
  auto served = provider_->load(*source);
  if (!served) return fail(ErrorKind::kInvalidInput, model.spec + ": " + served.error().message);
  // No request waits yet: settle the weights into huge pages now rather than while the first
  // requests decode (a few hundred ms for a 0.5B model).
  (*served)->model().finish_background_work();
  registry_.add(std::move(*served), source->path, source->file_bytes);
  return ok();
}

Service::~Service() {
  if (ollama_server_) ollama_server_->stop();
  if (server_) server_->stop();
  if (options_.router) options_.router->shutdown();
}

Status Service::run() {
  // Unloads models idle past their TTL.
  std::atomic<bool> reaper_stop{false};
  std::thread reaper([&] {
    while (!reaper_stop) {
      for (const auto& id : registry_.expire_idle()) {
        std::fprintf(stderr, "hearth serve: unloaded %s (idle past its TTL)\n", id.c_str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  std::fprintf(stderr, "hearth serve: listening on %s://%s:%d/v1\n",
               options_.http.tls_cert_file.empty() ? "http" : "https", options_.http.host.c_str(),
               options_.http.port);
  if (options_.web_ui) {
    if (web::built_with_ui()) {
      std::fprintf(stderr, "hearth serve: web app at %s://%s:%d/\n",
                   options_.http.tls_cert_file.empty() ? "http" : "https",
                   options_.http.host.c_str(), options_.http.port);
    } else {
      std::fprintf(stderr,
                   "hearth serve: this binary was built without the web app (docs/web.md)\n");
    }
  }
  // The Ollama listener runs its own loop; if it cannot bind, the whole server stops, so a
  // requested port is never silently missing.
  Status ollama_status = ok();
  std::thread ollama_loop;
  if (ollama_server_) {
    std::fprintf(stderr, "hearth serve: Ollama API also on http://%s:%d\n",
                 options_.http.host.c_str(), options_.ollama_port);
    ollama_loop = std::thread([&] {
      ollama_status = ollama_server_->listen();
      if (!ollama_status) server_->stop(std::chrono::milliseconds(0));
    });
  }
  Status status = server_->listen();
  if (ollama_server_) {
    ollama_server_->stop();
    ollama_loop.join();
  }
  reaper_stop = true;
  reaper.join();
  if (status && !ollama_status) {
    return fail(ollama_status.error().kind, "Ollama port: " + ollama_status.error().message);
  }
  return status;
}

void Service::stop(bool drain, std::chrono::milliseconds drain_timeout) {
  if (stopping_.exchange(true)) return;
  registry_.shutdown(drain);
  if (drain) {
    // Routed requests count in requests_in_flight, not in a model's health.
    const auto routed_deadline = std::chrono::steady_clock::now() + drain_timeout;
    while (metrics_.requests_in_flight.load() > 0 &&
           std::chrono::steady_clock::now() < routed_deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    const auto deadline = std::chrono::steady_clock::now() + drain_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int in_flight = 0;
      for (const auto& m : registry_.all()) in_flight += m->health().in_flight;
      if (in_flight == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let final chunks flush
  }
  if (ollama_server_) ollama_server_->stop();
  server_->stop();
}

}  // namespace hearth::server
