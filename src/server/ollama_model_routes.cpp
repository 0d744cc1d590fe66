// Ollama's model-management routes: /api/tags, /api/ps, /api/show, /api/pull, /api/delete.
// Models are catalog variants in hearth's cache (listed as alias:quantization) and the
// models the server has loaded (listed by id, with :latest when the id has no tag).
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include "catalog/cache.h"
#include "catalog/download.h"
#include "engine/gguf/gguf.h"
#include "server/catalog_provider.h"
#include "server/ollama_routes.h"
#include "server/ollama_translate.h"
#include "server/served_model.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;
namespace ol = ollama;
namespace cat = hearth::catalog;
namespace fs = std::filesystem;

std::string modified_at(const fs::path& path) {
  std::error_code ec;
  const auto when = fs::last_write_time(path, ec);
  if (ec) return ol::rfc3339(std::chrono::system_clock::now());
  // GCC 12 has no clock_cast: carry the file time over by its distance from now.
  const auto age = std::chrono::file_clock::now() - when;
  return ol::rfc3339(std::chrono::system_clock::now() -
                     std::chrono::duration_cast<std::chrono::system_clock::duration>(age));
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

json details(const std::string& family, const std::string& parameters,
             const std::string& quantization) {
  return {{"parent_model", ""},
          {"format", "gguf"},
          {"family", family},
          {"families", family.empty() ? json(nullptr) : json::array({family})},
          {"parameter_size", parameters},
          {"quantization_level", upper(quantization)}};
}

std::string digest_of(const std::string& sha256) {
  return sha256.empty() ? std::string() : sha256;
}

// A model the Ollama routes can describe: where its file is, and what the catalog says.
struct Located {
  std::string name;  // the name it is listed under
  fs::path path;
  std::optional<cat::Entry> entry;
  cat::Variant variant;   // meaningful with entry
  std::string loaded_id;  // non-empty when the registry has it loaded
};

// Finds a loaded model or a cached file for an Ollama name; 404 when neither exists (a
// catalog alias that is not downloaded yet is "not found", as in Ollama: pull it first).
ApiResult<Located> locate(const std::string& name, ModelRegistry& registry,
                          const OllamaRoutesOptions& opts) {
  const auto loaded = registry.loaded();
  for (const auto& candidate : ol::name_candidates(name)) {
    for (const auto& m : loaded) {
      if (m.id == candidate && !m.path.empty()) {
        Located out{name, m.path, std::nullopt, {}, m.id};
        return out;
      }
    }
  }
  for (const auto& candidate : ol::name_candidates(name)) {
    auto ref = resolve_model(*opts.catalog, candidate);
    if (!ref) {
      if (ref.error().status == 404) continue;
      return api_fail(ref.error());
    }
    if (ref->kind == cat::ModelRef::Kind::kLocalFile) return Located{name, ref->local_path};
    auto cached = cat::cache_lookup(opts.home, ref->variant, false);
    if (cached.state != cat::CacheState::kCached) continue;
    return Located{name, cached.path, ref->entry, ref->variant, {}};
  }
  return api_fail(ApiError{.status = 404,
                           .message = "model \"" + name + "\" not found, try pulling it first",
                           .code = "model_not_found"});
}

// GGUF metadata as Ollama's model_info: scalars as they are; long arrays (the vocabulary)
// as null, as Ollama leaves them out unless asked for verbose output.
json value_json(const gguf::Value& v) {
  if (v.is_string()) return std::string(v.as_string().value_or(""));
  if (v.type() == gguf::ValueType::BOOL) return v.as_bool().value_or(false);
  if (v.is_float()) return v.as_double().value_or(0.0);
  if (v.is_integer()) {
    if (auto i = v.as_int()) return *i;
    return v.as_uint().value_or(0);
  }
  if (v.is_array()) {
    if (v.size() > 64) return nullptr;
    json out = json::array();
    for (const auto& item : v.items()) out.push_back(value_json(item));
    return out;
  }
  return nullptr;
}

bool contains(const std::string& text, std::string_view what) {
  return text.find(what) != std::string::npos;
}

ApiResult<json> show(const Located& located) {
  auto file = gguf::File::open(located.path);
  if (!file) return api_fail(api_error_from(file.error()));
  json model_info = json::object();
  std::string arch, tmpl, license;
  for (const auto& [key, value] : file->metadata()) {
    if (key == "tokenizer.chat_template") {
      tmpl = std::string(value.as_string().value_or(""));
      continue;  // it is "template"
    }
    if (key == "general.architecture") arch = std::string(value.as_string().value_or(""));
    if (key == "general.license") license = std::string(value.as_string().value_or(""));
    model_info[std::string(key)] = value_json(value);
  }
  json capabilities = json::array();
  const bool encoder = arch == "bert" || arch == "nomic-bert";
  if (encoder) {
    capabilities.push_back("embedding");
  } else {
    capabilities.push_back("completion");
    if (contains(tmpl, "tools")) capabilities.push_back("tools");
    if (contains(tmpl, "<think>") || contains(tmpl, "enable_thinking") ||
        contains(tmpl, "reasoning_content")) {
      capabilities.push_back("thinking");
    }
  }
  std::string family = arch, parameters, quantization;
  if (located.entry) {
    if (!located.entry->family.empty()) family = located.entry->family;
    parameters = located.entry->parameters;
    quantization = located.variant.quantization;
    if (license.empty()) license = located.entry->license;
  }
  if (parameters.empty()) {
    if (auto label = file->find("general.size_label"); label && label->is_string()) {
      parameters = std::string(label->as_string().value_or(""));
    }
  }
  return json{{"license", license},
              {"modelfile",
               "# hearth serves this GGUF file as it is\nFROM " + located.path.string() + "\n"},
              {"parameters", ""},
              {"template", tmpl},
              {"details", details(family, parameters, quantization)},
              {"model_info", std::move(model_info)},
              {"capabilities", std::move(capabilities)},
              {"modified_at", modified_at(located.path)}};
}

json loaded_details(const std::shared_ptr<Backend>& backend) {
  if (auto served = std::dynamic_pointer_cast<ServedModel>(backend)) {
    return details(served->model().info().arch, "", "");
  }
  return details("", "", "");
}

json tags(ModelRegistry& registry, const OllamaRoutesOptions& opts) {
  json models = json::array();
  std::set<fs::path> listed;
  for (const auto& e : opts.catalog->entries()) {
    for (const auto& v : e.variants) {
      auto cached = cat::cache_lookup(opts.home, v, false);
      if (cached.state != cat::CacheState::kCached) continue;
      listed.insert(cached.path);
      const std::string name = ol::variant_name(e.alias, v.quantization);
      models.push_back({{"name", name},
                        {"model", name},
                        {"modified_at", modified_at(cached.path)},
                        {"size", cached.size},
                        {"digest", digest_of(cached.sha256)},
                        {"details", details(e.family, e.parameters, v.quantization)}});
    }
  }
  const auto backends = registry.all();
  for (const auto& m : registry.loaded()) {
    if (m.path.empty() || listed.count(m.path)) continue;
    std::error_code ec;
    const uint64_t size = fs::file_size(m.path, ec);
    std::shared_ptr<Backend> backend;
    for (const auto& b : backends) {
      if (b->id() == m.id) backend = b;
    }
    const std::string name = ol::served_name(m.id);
    models.push_back({{"name", name},
                      {"model", name},
                      {"modified_at", modified_at(m.path)},
                      {"size", ec ? 0 : size},
                      {"digest", ""},
                      {"details", loaded_details(backend)}});
  }
  return {{"models", std::move(models)}};
}

json ps(ModelRegistry& registry) {
  json models = json::array();
  const auto backends = registry.all();
  const auto now = std::chrono::system_clock::now();
  for (const auto& m : registry.loaded()) {
    std::shared_ptr<Backend> backend;
    for (const auto& b : backends) {
      if (b->id() == m.id) backend = b;
    }
    // A model without a TTL stays: Ollama shows such models with a far-away expiry.
    const auto expires = m.ttl_left_seconds < 0 ? now + std::chrono::hours(24 * 365 * 100)
                                                : now + std::chrono::seconds(m.ttl_left_seconds);
    const std::string name = ol::served_name(m.id);
    json row = {{"name", name},
                {"model", name},
                {"size", m.memory_bytes},
                {"digest", ""},
                {"details", loaded_details(backend)},
                {"expires_at", ol::rfc3339(expires)},
                {"size_vram", 0}};
    if (auto served = std::dynamic_pointer_cast<ServedModel>(backend)) {
      row["context_length"] = served->scheduler().n_ctx();
    }
    models.push_back(std::move(row));
  }
  return {{"models", std::move(models)}};
}

std::string line(const json& j) {
  return j.dump() + "\n";
}

// Finds the catalog variant an Ollama name means, for pull and delete.
ApiResult<cat::ModelRef> resolve_hub(const std::string& name, const OllamaRoutesOptions& opts) {
  std::optional<ApiError> first_error;
  for (const auto& candidate : ol::name_candidates(name)) {
    auto ref = resolve_model(*opts.catalog, candidate);
    if (ref) {
      if (ref->kind != cat::ModelRef::Kind::kHub) {
        return api_fail(
            invalid_request("\"" + name + "\" is a local file; it needs no pull", "model"));
      }
      return ref;
    }
    if (ref.error().status != 404) return api_fail(ref.error());
    if (!first_error) first_error = ref.error();
  }
  return api_fail(first_error.value_or(model_not_found(name)));
}

http::Response pull(const http::Request& req, std::shared_ptr<const OllamaRoutesOptions> opts) {
  if (!opts->allow_download) {
    return ollama_error({.status = 403, .message = "this server was started with --no-download"});
  }
  auto body = parse_json_body(req.body);
  if (!body) return ollama_error(body.error());
  auto name = ol::model_field(*body);
  if (!name) return ollama_error(name.error());
  bool stream = true;
  if (auto it = body->find("stream"); it != body->end() && !it->is_null()) {
    if (!it->is_boolean())
      return ollama_error(invalid_request("'stream' must be a boolean", "stream"));
    stream = it->get<bool>();
  }
  auto ref = resolve_hub(*name, *opts);
  if (!ref) return ollama_error(ref.error());
  const cat::Variant variant = ref->variant;
  if (!stream) {
    auto result = cat::download(opts->home, variant, {});
    if (!result) return ollama_error(api_error_from(result.error()));
    return json_response(200, {{"status", "success"}});
  }
  http::StreamBody out_body;
  out_body.produce = [opts, variant](http::StreamWriter& out) {
    out.write(line({{"status", "pulling manifest"}}));
    const std::string digest = variant.sha256.empty() ? "" : "sha256:" + variant.sha256;
    const std::string status =
        "pulling " + (variant.sha256.empty() ? variant.file : variant.sha256.substr(0, 12));
    cat::DownloadOptions options;
    auto last = std::chrono::steady_clock::time_point{};
    options.on_progress = [&](const cat::DownloadProgress& p) {
      const auto now = std::chrono::steady_clock::now();
      const bool finished = p.total > 0 && p.done >= p.total;
      if (!finished && now - last < std::chrono::milliseconds(100)) return;
      last = now;
      json progress = {{"status", status}};
      if (!digest.empty()) progress["digest"] = digest;
      progress["total"] = p.total;
      progress["completed"] = p.done;
      out.write(line(progress));
    };
    auto result = cat::download(opts->home, variant, options);
    if (!result) {
      out.write(line({{"error", result.error().message}}));
      return false;
    }
    if (result->was_cached) {
      json progress = {{"status", status}};
      if (!digest.empty()) progress["digest"] = digest;
      progress["total"] = result->size;
      progress["completed"] = result->size;
      out.write(line(progress));
    }
    out.write(line({{"status", "verifying sha256 digest"}}));
    out.write(line({{"status", "writing manifest"}}));
    out.write(line({{"status", "success"}}));
    return false;
  };
  return http::Response::streamed("application/x-ndjson", std::move(out_body));
}

http::Response remove(const http::Request& req, ModelRegistry& registry,
                      const OllamaRoutesOptions& opts) {
  auto body = parse_json_body(req.body);
  if (!body) return ollama_error(body.error());
  auto name = ol::model_field(*body);
  if (!name) return ollama_error(name.error());
  auto ref = resolve_hub(*name, opts);
  if (!ref) return ollama_error(ref.error());
  auto cached = cat::cache_lookup(opts.home, ref->variant, false);
  if (cached.state == cat::CacheState::kMissing) {
    return ollama_error(
        {.status = 404, .message = "model \"" + *name + "\" not found", .code = "model_not_found"});
  }
  // A loaded copy goes first; one that is answering a request keeps its file.
  for (const auto& m : registry.loaded()) {
    if (m.path != cached.path) continue;
    auto unloaded = registry.unload(m.id, /*force=*/false);
    if (!unloaded) return ollama_error(unloaded.error());
  }
  auto removed = cat::cache_remove(opts.home, ref->variant);
  if (!removed) return ollama_error(api_error_from(removed.error()));
  return http::Response::json(200, "");
}

}  // namespace

void register_ollama_model_routes(http::Router& router, ModelRegistry& registry,
                                  std::shared_ptr<const OllamaRoutesOptions> opts) {
  router.get("/api/tags", [&registry, opts](http::Request&) {
    return json_response(200, tags(registry, *opts));
  });
  router.get("/api/ps", [&registry](http::Request&) { return json_response(200, ps(registry)); });
  router.post("/api/show", [&registry, opts](http::Request& req) {
    auto body = parse_json_body(req.body);
    if (!body) return ollama_error(body.error());
    auto name = ol::model_field(*body);
    if (!name) return ollama_error(name.error());
    auto located = locate(*name, registry, *opts);
    if (!located) return ollama_error(located.error());
    auto shown = show(*located);
    if (!shown) return ollama_error(shown.error());
    return json_response(200, *shown);
  });
  router.post("/api/pull", [opts](http::Request& req) { return pull(req, opts); });
  router.add("DELETE", "/api/delete",
             [&registry, opts](http::Request& req) { return remove(req, registry, *opts); });
}

}  // namespace hearth::server
