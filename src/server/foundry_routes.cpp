#include "server/foundry_routes.h"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "catalog/download.h"

namespace hearth::server {
namespace {

namespace cat = hearth::catalog;
using nlohmann::json;

std::string task_name(const cat::Entry& e) {
  if (e.has_task("embedding")) return "embeddings";
  return "chat-completion";
}

json variant_row(const cat::Entry& e, const cat::Variant& v, const std::filesystem::path& home) {
  return {{"name", e.alias + ":" + v.quantization},
          {"displayName", e.description.empty() ? e.alias : e.description},
          {"alias", e.alias},
          {"providerType", "HuggingFace"},
          {"uri", "hf://" + v.repo + "/" + v.file},
          {"version", v.revision},
          {"modelType", "GGUF"},
          {"task", task_name(e)},
          {"tasks", e.tasks},
          {"runtime", {{"deviceType", "CPU"}, {"executionProvider", "hearth"}}},
          {"fileSizeMb", v.approx_bytes() >> 20},
          {"license", e.license},
          {"parameters", e.parameters},
          {"contextLength", e.context_length},
          {"maxOutputTokens", e.context_length},
          {"supportsToolCalling", false},
          {"quantization", v.quantization},
          {"sha256", v.sha256.empty() ? json(nullptr) : json(v.sha256)},
          {"cached", cat::cache_lookup(home, v, false).state == cat::CacheState::kCached}};
}

std::optional<int> parse_ttl(const httplib::Request& req, ApiError& error) {
  if (!req.has_param("ttl")) return std::nullopt;
  const std::string text = req.get_param_value("ttl");
  char* end = nullptr;
  const long ttl = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || ttl < 0 || ttl > 365L * 86400) {
    error = invalid_request("ttl must be a number of seconds (0 keeps the model loaded)", "ttl");
    return -1;
  }
  return static_cast<int>(ttl);
}

// The model name of a download request, in any of the shapes Foundry clients send.
std::string download_name(const json& body) {
  if (!body.is_object()) return {};
  if (auto it = body.find("model"); it != body.end()) {
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) {
      for (const char* key : {"Name", "name", "Alias", "alias"}) {
        if (it->contains(key) && (*it)[key].is_string()) return (*it)[key].get<std::string>();
      }
    }
  }
  if (body.contains("name") && body["name"].is_string()) return body["name"].get<std::string>();
  return {};
}

}  // namespace

void register_foundry_routes(HttpServer& http, ModelRegistry& registry,
                             FoundryRoutesOptions options) {
  auto& routes = http.routes();
  auto opts = std::make_shared<FoundryRoutesOptions>(std::move(options));

  routes.Get("/openai/status", [opts](const httplib::Request&, httplib::Response& res) {
    send_json(res, 200,
              json{{"Endpoints", {opts->endpoint}},
                   {"ModelDirPath", (opts->home / "models").string()},
                   {"modelDirPath", (opts->home / "models").string()},  // what the JS SDK reads
                   {"PipeName", ""}}
                  .dump());
  });

  routes.Get("/foundry/list", [opts](const httplib::Request&, httplib::Response& res) {
    auto catalog = cat::Catalog::load(opts->home);
    if (!catalog) return send_error(res, internal_error(catalog.error().message));
    json rows = json::array();
    for (const auto& e : catalog->entries()) {
      for (const auto& v : e.variants) rows.push_back(variant_row(e, v, opts->home));
    }
    send_json(res, 200, rows.dump());
  });

  routes.Get("/openai/models", [opts](const httplib::Request&, httplib::Response& res) {
    auto catalog = cat::Catalog::load(opts->home);
    json names = json::array();
    if (catalog) {
      for (const auto& e : catalog->entries()) {
        for (const auto& v : e.variants) {
          if (cat::cache_lookup(opts->home, v, false).state == cat::CacheState::kCached) {
            names.push_back(e.alias + ":" + v.quantization);
          }
        }
      }
    }
    send_json(res, 200, names.dump());
  });

  routes.Get(R"(/openai/load/(.+))",
             [&registry](const httplib::Request& req, httplib::Response& res) {
               const std::string name = req.matches[1];
               ApiError error;
               const auto ttl = parse_ttl(req, error);
               if (ttl && *ttl < 0) return send_error(res, error);
               auto model = registry.load(name, ttl);
               if (!model) return send_error(res, model.error());
               send_json(res, 200, json{{"name", (*model)->id()}, {"loaded", true}}.dump());
             });

  routes.Get(
      R"(/openai/unload/(.+))", [&registry](const httplib::Request& req, httplib::Response& res) {
        const std::string name = req.matches[1];
        const std::string force = req.has_param("force") ? req.get_param_value("force") : "false";
        if (force != "true" && force != "false")
          return send_error(res, invalid_request("force must be true or false", "force"));
        auto done = registry.unload(name, force == "true");
        if (!done) return send_error(res, done.error());
        send_json(res, 200, json{{"name", name}, {"unloaded", true}}.dump());
      });

  routes.Get("/openai/loadedmodels", [&registry](const httplib::Request&, httplib::Response& res) {
    json names = json::array();
    for (const auto& m : registry.loaded()) names.push_back(m.id);
    send_json(res, 200, names.dump());
  });

  routes.Get("/hearth/loaded", [&registry](const httplib::Request&, httplib::Response& res) {
    json models = json::array();
    for (const auto& m : registry.loaded()) {
      models.push_back({{"id", m.id},
                        {"path", m.path.string()},
                        {"memory_bytes", m.memory_bytes},
                        {"in_flight", m.in_flight},
                        {"ttl_seconds", m.ttl_seconds},
                        {"ttl_left_seconds", m.ttl_left_seconds}});
    }
    send_json(res, 200,
              json{{"models", models},
                   {"memory_budget_bytes", registry.memory_budget()},
                   {"memory_used_bytes", registry.memory_used()}}
                  .dump());
  });

  routes.Post("/openai/download", [opts](const httplib::Request& req, httplib::Response& res) {
    if (!opts->allow_download) {
      return send_error(res, {.status = 403,
                              .message = "this server was started with --no-download",
                              .type = "invalid_request_error"});
    }
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return send_error(res, invalid_json("the body is not valid JSON"));
    const std::string name = download_name(body);
    if (name.empty())
      return send_error(
          res, invalid_request("name the model: {\"model\":{\"Name\":\"ALIAS\"}}", "model"));
    auto catalog = cat::Catalog::load(opts->home);
    if (!catalog) return send_error(res, internal_error(catalog.error().message));
    auto ref = cat::resolve(*catalog, name, cat::Machine::detect());
    if (!ref) {
      ApiError e = model_not_found(name);
      e.message = ref.error().message;
      return send_error(res, e);
    }
    if (ref->kind != cat::ModelRef::Kind::kHub)
      return send_error(res, invalid_request("a local file needs no download", "model"));
    auto variant = std::make_shared<cat::Variant>(ref->variant);
    auto label = std::make_shared<std::string>(cat::display_name(*ref));
    // Progress lines as Foundry streams them ("Total 42.00% Downloading NAME"), then one JSON
    // line with the outcome.
    // Not a text/* type: cpp-httplib gzips those for clients that accept it, and its gzip
    // holds the whole stream back until the download ends.
    res.set_chunked_content_provider(
        "application/octet-stream", [opts, variant, label](size_t, httplib::DataSink& sink) {
          cat::DownloadOptions options;
          double last = -1;
          options.on_progress = [&](const cat::DownloadProgress& p) {
            if (p.total == 0) return;
            const double pct = 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total);
            if (pct - last < 1.0 && pct < 100.0) return;
            last = pct;
            char line[256];
            std::snprintf(line, sizeof line, "Total %.2f%% Downloading %s\n", pct, label->c_str());
            sink.write(line, std::strlen(line));
          };
          auto result = cat::download(opts->home, *variant, options);
          // Foundry's JS SDK decides per network read whether it holds progress text or the final
          // JSON, so the JSON must not share a read with the last progress line: a pause lets the
          // progress go out on its own.
          if (last >= 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
          const std::string outcome =
              json{{"success", result.has_value()},
                   {"errorMessage", result ? json(nullptr) : json(result.error().message)},
                   {"error", result ? json(nullptr) : json(result.error().message)}}
                  // the JS SDK reads this
                  .dump() +
              "\n";
          sink.write(outcome.data(), outcome.size());
          sink.done();
          return true;
        });
  });
}

}  // namespace hearth::server
