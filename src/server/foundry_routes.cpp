#include "server/foundry_routes.h"

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "catalog/download.h"
#include "server/catalog_provider.h"

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

std::optional<int> parse_ttl(const http::Request& req, ApiError& error) {
  const auto param = req.query_param("ttl");
  if (!param) return std::nullopt;
  const std::string& text = *param;
  char* end = nullptr;
  const long ttl = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || ttl < 0 || ttl > 365L * 86400) {
    error = invalid_request("ttl must be a number of seconds (0 keeps the model loaded)", "ttl");
    return -1;
  }
  return static_cast<int>(ttl);
}

// The model name of a download request, in any of the shapes Foundry clients send.
// Loading, unloading and downloading change the server's state through Foundry's GET and
// text-bodied POST shapes, which any web page can send without CORS (an <img>, a form). A
// browser marks such requests Sec-Fetch-Site: cross-site; SDKs and curl send no such header.
std::optional<ApiError> refuse_cross_site(const http::Request& req) {
  if (req.header("sec-fetch-site").value_or("") != "cross-site") return std::nullopt;
  return ApiError{.status = 403,
                  .message = "another site's page may not load, unload or download models here",
                  .type = "invalid_request_error",
                  .code = "cross_site_request"};
}

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

http::Response download_response(std::shared_ptr<const FoundryRoutesOptions> opts,
                                 cat::Variant variant, std::string label) {
  // Progress lines as Foundry streams them ("Total 42.00% Downloading NAME"), then one JSON
  // line with the outcome. The download runs inside the first (and only) produce call.
  http::StreamBody body;
  body.produce = [opts, variant = std::move(variant),
                  label = std::move(label)](http::StreamWriter& out) {
    cat::DownloadOptions options;
    double last = -1;
    options.on_progress = [&](const cat::DownloadProgress& p) {
      if (p.total == 0) return;
      const double pct = 100.0 * static_cast<double>(p.done) / static_cast<double>(p.total);
      if (pct - last < 1.0 && pct < 100.0) return;
      last = pct;
      char line[256];
      std::snprintf(line, sizeof line, "Total %.2f%% Downloading %s\n", pct, label.c_str());
      out.write(line);
    };
    auto result = cat::download(opts->home, variant, options);
    // Foundry's JS SDK decides per network read whether it holds progress text or the final
    // JSON, so the JSON must not share a read with the last progress line: a pause lets the
    // progress go out on its own.
    if (last >= 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const std::string outcome =
        json{{"success", result.has_value()},
             {"errorMessage", result ? json(nullptr) : json(result.error().message)},
             {"error", result ? json(nullptr) : json(result.error().message)}}  // the JS SDK
            .dump() +
        "\n";
    out.write(outcome);
    return false;
  };
  // Not a text/* type: cpp-httplib gzips those for clients that accept it, and its gzip
  // holds the whole stream back until the download ends.
  return http::Response::streamed("application/octet-stream", std::move(body));
}

}  // namespace

void register_foundry_routes(http::Router& router, ModelRegistry& registry,
                             FoundryRoutesOptions options) {
  auto opts = std::make_shared<const FoundryRoutesOptions>(std::move(options));
  auto text = [](const json& body) { return http::Response::json(200, body.dump()); };

  router.get("/openai/status", [opts, text](http::Request&) {
    return text(json{{"Endpoints", {opts->endpoint}},
                     {"ModelDirPath", (opts->home / "models").string()},
                     {"modelDirPath", (opts->home / "models").string()},  // what the JS SDK reads
                     {"PipeName", ""}});
  });

  router.get("/foundry/list", [opts, text](http::Request&) {
    json rows = json::array();
    for (const auto& e : opts->catalog->entries()) {
      for (const auto& v : e.variants) rows.push_back(variant_row(e, v, opts->home));
    }
    return text(rows);
  });

  router.get("/openai/models", [opts, text](http::Request&) {
    json names = json::array();
    for (const auto& e : opts->catalog->entries()) {
      for (const auto& v : e.variants) {
        if (cat::cache_lookup(opts->home, v, false).state == cat::CacheState::kCached) {
          names.push_back(e.alias + ":" + v.quantization);
        }
      }
    }
    return text(names);
  });

  router.get("/openai/load/*", [&registry, text](http::Request& req) {
    if (auto refused = refuse_cross_site(req)) return error_response(*refused);
    const std::string& name = req.path_remainder;
    if (name.empty()) return error_response(model_not_found(name));
    ApiError error;
    const auto ttl = parse_ttl(req, error);
    if (ttl && *ttl < 0) return error_response(error);
    auto model = registry.load(name, ttl);
    if (!model) return error_response(model.error());
    return text(json{{"name", (*model)->id()}, {"loaded", true}});
  });

  router.get("/openai/unload/*", [&registry, text](http::Request& req) {
    if (auto refused = refuse_cross_site(req)) return error_response(*refused);
    const std::string& name = req.path_remainder;
    if (name.empty()) return error_response(model_not_found(name));
    const std::string force = req.query_param("force").value_or("false");
    if (force != "true" && force != "false")
      return error_response(invalid_request("force must be true or false", "force"));
    auto done = registry.unload(name, force == "true");
    if (!done) return error_response(done.error());
    return text(json{{"name", name}, {"unloaded", true}});
  });

  router.get("/openai/loadedmodels", [&registry, text](http::Request&) {
    json names = json::array();
    for (const auto& m : registry.loaded()) names.push_back(m.id);
    return text(names);
  });

  router.get("/hearth/loaded", [&registry, text](http::Request&) {
    json models = json::array();
    for (const auto& m : registry.loaded()) {
      models.push_back({{"id", m.id},
                        {"path", m.path.string()},
                        {"memory_bytes", m.memory_bytes},
                        {"in_flight", m.in_flight},
                        {"ttl_seconds", m.ttl_seconds},
                        {"ttl_left_seconds", m.ttl_left_seconds}});
    }
    return text(json{{"models", models},
                     {"memory_budget_bytes", registry.memory_budget()},
                     {"memory_used_bytes", registry.memory_used()}});
  });

  router.post("/openai/download", [opts](http::Request& req) {
    if (auto refused = refuse_cross_site(req)) return error_response(*refused);
    if (!opts->allow_download) {
      return error_response({.status = 403,
                             .message = "this server was started with --no-download",
                             .type = "invalid_request_error"});
    }
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded()) return error_response(invalid_json("the body is not valid JSON"));
    const std::string name = download_name(body);
    if (name.empty())
      return error_response(
          invalid_request("name the model: {\"model\":{\"Name\":\"ALIAS\"}}", "model"));
    auto ref = resolve_model(*opts->catalog, name);
    if (!ref) return error_response(ref.error());
    if (ref->kind != cat::ModelRef::Kind::kHub)
      return error_response(invalid_request("a local file needs no download", "model"));
    return download_response(opts, ref->variant, cat::display_name(*ref));
  });
}

}  // namespace hearth::server
