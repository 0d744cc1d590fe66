// `hearth serve`: the OpenAI-compatible HTTP server.
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "cli/commands.h"
#include "hearth/engine.h"
#include "server/catalog_provider.h"
#include "server/foundry_routes.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/openai_routes.h"

namespace hearth::cli {
namespace {

struct ServeArgs {
  std::vector<std::string> models;
  std::vector<std::string> aliases;
  std::string host = "127.0.0.1";
  int port = 8000;
  int parallel = 4;
  int ctx_size = 0;
  int threads = 0;
  int max_queue = 64;
  std::string api_key;
  std::string api_key_file;
  std::vector<std::string> cors_origins;
  size_t max_body_mb = 16;
  int64_t memory_budget_mb = -1;  // -1: half of the machine's RAM
  int ttl_seconds = 600;
  bool no_download = false;
};

int run_serve(const ServeArgs& args) {
  // Signals are taken by a dedicated thread (sigwait), so every other thread must block them;
  // set the mask before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  server::HttpOptions http_options;
  http_options.host = args.host;
  http_options.port = args.port;
  http_options.cors_origins = args.cors_origins;
  http_options.max_body_bytes = args.max_body_mb << 20;
  if (!args.api_key.empty()) http_options.api_keys.push_back(args.api_key);
  if (!args.api_key_file.empty()) {
    std::ifstream in(args.api_key_file);
    if (!in) {
      std::fprintf(stderr, "hearth serve: cannot read API key file %s\n",
                   args.api_key_file.c_str());
      return 1;
    }
    for (std::string line; std::getline(in, line);) {
      while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
      if (!line.empty() && line[0] != '#') http_options.api_keys.push_back(line);
    }
    if (http_options.api_keys.empty()) {
      std::fprintf(stderr, "hearth serve: %s holds no key\n", args.api_key_file.c_str());
      return 1;
    }
  }
  if (args.aliases.size() > args.models.size()) {
    std::fprintf(stderr, "hearth serve: more --alias than -m options\n");
    return 1;
  }

  server::Metrics metrics;
  server::ModelRegistry registry;
  server::SchedulerOptions scheduler_options;
  scheduler_options.n_slots = args.parallel;
  scheduler_options.n_ctx = args.ctx_size;
  scheduler_options.n_threads = args.threads;
  scheduler_options.max_queue = args.max_queue;
  const auto home = catalog::hearth_home();
  server::RegistryLimits limits;
  limits.default_ttl_seconds = args.ttl_seconds;
  limits.memory_budget_bytes = args.memory_budget_mb >= 0
                                   ? static_cast<uint64_t>(args.memory_budget_mb) << 20
                                   : catalog::Machine::detect().memory_total / 2;
  server::CatalogProviderOptions provider_options;
  provider_options.home = home;
  provider_options.allow_download = !args.no_download;
  provider_options.scheduler = scheduler_options;
  provider_options.n_threads = args.threads;
  provider_options.n_ctx = args.ctx_size;
  registry.set_provider(server::make_catalog_provider(provider_options, &metrics), limits);

  for (size_t i = 0; i < args.models.size(); ++i) {
    const std::filesystem::path path = args.models[i];
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec) && i >= args.aliases.size()) {
      // A catalog alias or hf:// reference: loaded (and downloaded) like an on-demand model,
      // but kept loaded. Offline with nothing cached, the server still starts.
      auto loaded = registry.load(args.models[i], /*ttl_seconds=*/0);
      if (!loaded) {
        std::fprintf(stderr, "hearth serve: %s is not available: %s\n", args.models[i].c_str(),
                     loaded.error().message.c_str());
        std::fprintf(stderr,
                     "hearth serve: serving without it; `hearth model download %s` fetches it\n",
                     args.models[i].c_str());
      }
      continue;
    }
    ModelOptions model_options;
    model_options.n_threads = args.threads;
    model_options.n_ctx = args.ctx_size;
    auto model = Model::load(path, model_options);
    if (!model) {
      std::fprintf(stderr, "hearth serve: %s\n", model.error().message.c_str());
      return 1;
    }
    // No request waits yet: settle the weights into huge pages now rather than while the
    // first requests decode (a few hundred ms for a 0.5B model).
    (*model)->finish_background_work();
    const std::string id = i < args.aliases.size() ? args.aliases[i] : path.stem().string();
    auto served = server::ServedModel::create(id, *model, scheduler_options, &metrics);
    if (!served) {
      std::fprintf(stderr, "hearth serve: %s: %s\n", id.c_str(), served.error().message.c_str());
      return 1;
    }
    if ((*served)->uses_fallback_template()) {
      std::fprintf(stderr, "hearth serve: %s has no chat template; using the ChatML fallback\n",
                   id.c_str());
    }
    registry.add(std::move(*served), path, std::filesystem::file_size(path, ec));
    std::fprintf(stderr, "hearth serve: loaded %s (%s)\n", id.c_str(), path.c_str());
  }
  if (registry.empty()) {
    std::fprintf(
        stderr,
        "hearth serve: no model loaded yet; requests naming a catalog alias load it on demand "
        "(`hearth model list` shows them)\n");
  }

  server::HttpServer http(http_options);
  server::register_openai_routes(http, registry, metrics);
  server::register_foundry_routes(
      http, registry,
      {home, "http://" + args.host + ":" + std::to_string(args.port), !args.no_download});

  // Unloads models idle past their TTL.
  std::atomic<bool> reaper_stop{false};
  std::thread reaper([&] {
    while (!reaper_stop) {
      for (const auto& id : registry.expire_idle()) {
        std::fprintf(stderr, "hearth serve: unloaded %s (idle past its TTL)\n", id.c_str());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  struct JoinReaper {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~JoinReaper() {
      stop = true;
      thread.join();
    }
  } join_reaper{reaper_stop, reaper};

  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&signals, &received);
    if (received == 0) return;
    std::fprintf(stderr, "hearth serve: shutting down, finishing requests in flight\n");
    registry.shutdown(/*drain=*/true);
    for (int i = 0; i < 300; ++i) {  // up to 30 s for in-flight streams to end
      int load = 0;
      for (const auto& m : registry.all()) load += m->scheduler().load();
      if (load == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let final chunks flush
    http.stop();
  });

  std::fprintf(stderr, "hearth serve: listening on http://%s:%d/v1\n", args.host.c_str(),
               args.port);
  auto status = http.listen();
  if (!status) {
    std::fprintf(stderr, "hearth serve: %s\n", status.error().message.c_str());
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
    return 1;
  }
  if (signal_thread.joinable()) {
    pthread_kill(signal_thread.native_handle(), SIGTERM);
    signal_thread.join();
  }
  return 0;
}

}  // namespace

void register_serve(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Serve models over an OpenAI-compatible HTTP API");
  auto args = std::make_shared<ServeArgs>();
  cmd->add_option(
      "-m,--model", args->models,
      "GGUF file, catalog alias or hf://owner/repo/file.gguf (repeatable; none: load on demand)");
  cmd->add_option("--alias", args->aliases, "Model id for the matching -m (repeatable)");
  cmd->add_option("--host", args->host, "Address to bind (0.0.0.0 for all interfaces)");
  cmd->add_option("--port", args->port, "Port")->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", args->parallel, "Concurrent requests per model (slots)")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--ctx-size,-c", args->ctx_size, "Context size per slot (0: model default)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", args->threads, "Threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--max-queue", args->max_queue, "Requests that may wait for a slot")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--api-key", args->api_key, "Require this key as 'Authorization: Bearer KEY'");
  cmd->add_option("--api-key-file", args->api_key_file, "File with one accepted key per line");
  cmd->add_option("--cors-origin", args->cors_origins, "Allowed browser origin, or * (repeatable)");
  cmd->add_option("--max-body-mb", args->max_body_mb, "Largest accepted request body (MiB)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--memory-budget", args->memory_budget_mb,
                  "MiB that loaded models may take; least recently used idle models are unloaded "
                  "to make room "
                  "(default: half the RAM)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--ttl", args->ttl_seconds,
                  "Idle seconds before an on-demand model is unloaded (0: never)")
      ->check(CLI::Range(0, 86400 * 365));
  cmd->add_flag("--no-download", args->no_download, "Load only models already in the cache");
  cmd->callback([args, &exit_code] { exit_code = run_serve(*args); });
}

}  // namespace hearth::cli
