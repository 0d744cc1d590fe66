#include "server/web_routes.h"

#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>

#include "server/api_error.h"
#include "server/openai_request.h"
#include "web/assets.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

// Nothing but this server: the app works offline and a reply's text cannot pull anything in.
// 'unsafe-inline' is never allowed; images may be data: URLs (the app draws none today).
// 'wasm-unsafe-eval' allows compiling WebAssembly (the browser engine), not JavaScript eval.
constexpr const char* kContentSecurityPolicy =
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
    "style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

void add_page_headers(http::Response& res) {
  res.headers.set("Content-Security-Policy", kContentSecurityPolicy);
  // Cross-origin isolation for the browser engine (docs/wasm.md): everything the app loads is
  // its own, so requiring CORP costs nothing, and each of its files says it may be embedded
  // by same-origin pages only.
  res.headers.set("Cross-Origin-Opener-Policy", "same-origin");
  res.headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  res.headers.set("Cross-Origin-Resource-Policy", "same-origin");
  res.headers.set("X-Content-Type-Options", "nosniff");
  res.headers.set("Referrer-Policy", "no-referrer");
  res.headers.set("X-Frame-Options", "DENY");
}

// An embedded file, or 304 when the browser's copy is current.
http::Response serve_asset(const http::Request& req, const web::Asset& asset) {
  http::Response res;
  if (auto match = req.header("If-None-Match"); match && *match == asset.etag) {
    res.status = 304;
  } else {
    res = http::Response::text(200, std::string(asset.bytes), std::string(asset.content_type));
  }
  res.headers.set("ETag", std::string(asset.etag));
  res.headers.set("Cache-Control", "no-cache");
  add_page_headers(res);
  return res;
}

// What a build without the app answers a browser at /: how to get the app.
http::Response missing_app_page() {
  http::Response res = http::Response::text(
      200,
      "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<title>hearth</title></head><body><h1>hearth is running</h1>"
      "<p>This hearth binary was built without its web app (node and npm were not found when "
      "it was built). The API is at <code>/v1</code>.</p>"
      "<p>To get the app, rebuild with node and npm installed, or configure with "
      "<code>-DHEARTH_WEB_DIST=&lt;the web-dist folder of a release tarball&gt;</code>; "
      "see docs/web.md.</p></body></html>",
      "text/html; charset=utf-8");
  res.headers.set("Cache-Control", "no-cache");
  add_page_headers(res);
  return res;
}

http::Response app_shell(const http::Request& req) {
  const web::Asset* index = web::find_asset("index.html");
  return index ? serve_asset(req, *index) : missing_app_page();
}

// The browser engine's wasm builds (docs/wasm.md): the single-threaded module, and the
// threaded one with the script its pthread Workers start from. A page loads one of the two.
constexpr const char* kWasmFiles[] = {"hearth_wasm.js", "hearth_wasm.wasm", "hearth_wasm_mt.js",
                                      "hearth_wasm_mt.wasm", "hearth_wasm_mt.worker.js"};

// The browser engine's wasm build, read from disk on each request (files of a few MB,
// fetched once per page load): a rebuilt build-wasm is served at once. Absent, a 404 that
// says how to build it.
http::Response serve_wasm_file(const http::Request& req, const std::filesystem::path& dir,
                               const std::string& name) {
  const std::filesystem::path path = dir / name;
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    ApiError e = not_found_route(req.method, req.path);
    e.message = "The browser engine's WebAssembly build is not here (" + path.string() +
                " not found). Build it with `make test-wasm` (needs emscripten: apt-get install "
                "emscripten), or point `hearth serve --wasm-dir` at a folder holding "
                "hearth_wasm.js and hearth_wasm.wasm (and hearth_wasm_mt.*, the threaded "
                "build); see docs/wasm.md.";
    e.code = "wasm_build_missing";
    return error_response(e);
  }
  const auto mtime = std::filesystem::last_write_time(path, ec).time_since_epoch().count();
  const std::string etag = "\"" + std::to_string(size) + "-" + std::to_string(mtime) + "\"";
  http::Response res;
  if (auto match = req.header("If-None-Match"); match && *match == etag) {
    res.status = 304;
  } else {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in) return error_response(internal_error("cannot read " + path.string()));
    res = http::Response::text(
        200, std::move(bytes).str(),
        name.ends_with(".wasm") ? "application/wasm" : "text/javascript; charset=utf-8");
  }
  res.headers.set("ETag", etag);
  res.headers.set("Cache-Control", "no-cache");
  add_page_headers(res);
  return res;
}

// The JS package's files at the top of the app's dist (hearth.js, hearth-worker.js, ...).
std::vector<std::string> package_files() {
  std::vector<std::string> out;
  for (const web::Asset& asset : web::assets()) {
    if (asset.path.find('/') == std::string_view::npos && asset.path.ends_with(".js")) {
      out.emplace_back(asset.path);
    }
  }
  return out;
}

bool accepts_html(const http::Request& req) {
  auto accept = req.header("Accept");
  return accept && accept->find("text/html") != std::string_view::npos;
}

// ---- /ui/api/conversations -----------------------------------------------------------------

struct Api {
  WebRoutesOptions options;

  bool ready(http::Response& out) const {
    if (options.store) return true;
    ApiError e = server_busy(0);
    e.message = "conversations are unavailable: " + options.store_problem;
    out = error_response(e);
    return false;
  }

  static http::Response from_error(const Error& e) { return error_response(api_error_from(e)); }

  // Writes must say they are JSON. A page on another site may send a "simple" cross-origin
  // POST (text/plain, no preflight) to this server on the user's machine; requiring
  // application/json forces a preflight, which the CORS policy refuses to other origins.
  static bool json_body(const http::Request& req, http::Response& out) {
    auto type = req.header("Content-Type");
    if (type && type->starts_with("application/json")) return true;
    ApiError e = invalid_request("Content-Type must be application/json");
    e.status = 415;
    e.code = "unsupported_media_type";
    out = error_response(e);
    return false;
  }

  http::Response list(const http::Request& req) const {
    http::Response res;
    if (!ready(res)) return res;
    auto found = options.store->list(req.query_param("q").value_or(""));
    if (!found) return from_error(found.error());
    json data = json::array();
    for (const auto& s : *found) data.push_back(summary_json(s));
    return json_response(200, {{"object", "list"}, {"data", std::move(data)}});
  }

  http::Response create(const http::Request& req) const {
    http::Response res;
    if (!ready(res) || !json_body(req, res)) return res;
    auto body = parse_json_body(req.body);
    if (!body) return error_response(body.error());
    auto update = parse_conversation_update(*body);
    if (!update) return from_error(update.error());
    auto created = options.store->create(*update);
    if (!created) return from_error(created.error());
    return json_response(201, conversation_json(*created));
  }

  // GET ID, GET ID/export
  http::Response read(const http::Request& req) const {
    http::Response res;
    if (!ready(res)) return res;
    std::string_view rest = req.path_remainder;
    const bool exporting = rest.ends_with("/export");
    if (exporting) rest.remove_suffix(std::string_view("/export").size());
    if (rest.empty() || rest.find('/') != std::string_view::npos) {
      return error_response(not_found_route(req.method, req.path));
    }
    auto got = options.store->get(std::string(rest));
    if (!got) return from_error(got.error());
    json body = conversation_json(*got);
    if (!exporting) return json_response(200, body);
    body = {{"object", "hearth.conversation"}, {"version", 1}, {"conversation", std::move(body)}};
    res = json_response(200, body);
    // The id is made of [a-z0-9-] only, so it is safe in a header.
    res.headers.set("Content-Disposition",
                    "attachment; filename=\"" + std::string(rest) + ".json\"");
    return res;
  }

  // POST ID (update), POST ID/messages (append)
  http::Response write(const http::Request& req) const {
    http::Response res;
    if (!ready(res)) return res;
    std::string_view rest = req.path_remainder;
    const bool appending = rest.ends_with("/messages");
    if (appending) rest.remove_suffix(std::string_view("/messages").size());
    if (rest.empty() || rest.find('/') != std::string_view::npos) {
      return error_response(not_found_route(req.method, req.path));
    }
    if (!json_body(req, res)) return res;
    auto body = parse_json_body(req.body);
    if (!body) return error_response(body.error());
    Result<Conversation> out;
    if (appending) {
      if (!body->is_object() || !body->contains("messages")) {
        return error_response(invalid_request("'messages' is required", "messages"));
      }
      auto messages = parse_messages((*body)["messages"]);
      if (!messages) return from_error(messages.error());
      out = options.store->append(std::string(rest), *messages);
    } else {
      auto update = parse_conversation_update(*body);
      if (!update) return from_error(update.error());
      out = options.store->update(std::string(rest), *update);
    }
    if (!out) return from_error(out.error());
    return json_response(200, conversation_json(*out));
  }

  http::Response remove(const http::Request& req) const {
    http::Response res;
    if (!ready(res)) return res;
    auto removed = options.store->remove(req.path_remainder);
    if (!removed) return from_error(removed.error());
    if (!*removed) {
      return from_error(
          Error{"conversation '" + req.path_remainder + "' not found", ErrorKind::kNotFound});
    }
    return json_response(200, {{"id", req.path_remainder}, {"deleted", true}});
  }
};

}  // namespace

std::optional<http::Response> web_root(const http::Request& req) {
  if (!accepts_html(req)) return std::nullopt;
  return app_shell(req);
}

std::filesystem::path default_wasm_dir() {
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "build-wasm";
  const std::filesystem::path beside = exe.parent_path() / "wasm";
  if (std::filesystem::exists(beside / "hearth_wasm.wasm", ec)) return beside;
  return (exe.parent_path().parent_path() / "build-wasm").lexically_normal();
}

std::vector<std::string> web_public_paths() {
  std::vector<std::string> paths = {"/compare", "/models", "/documents", "/browser"};
  for (const char* file : kWasmFiles) paths.push_back(std::string("/") + file);
  for (const auto& file : package_files()) paths.push_back("/" + file);
  return paths;
}

std::vector<std::string> web_public_prefixes() {
  return {"/assets/", "/c/"};
}

void register_web_routes(http::Router& router, WebRoutesOptions options) {
  router.get("/assets/*", [](http::Request& req) {
    const web::Asset* asset = web::find_asset("assets/" + req.path_remainder);
    if (!asset) return error_response(not_found_route(req.method, req.path));
    return serve_asset(req, *asset);
  });
  for (const char* path : {"/compare", "/models", "/documents", "/browser"}) {
    router.get(path, [](http::Request& req) { return app_shell(req); });
  }
  for (const auto& file : package_files()) {
    router.get("/" + file, [file](http::Request& req) {
      const web::Asset* asset = web::find_asset(file);
      return asset ? serve_asset(req, *asset)
                   : error_response(not_found_route(req.method, req.path));
    });
  }
  const std::filesystem::path wasm_dir =
      options.wasm_dir.empty() ? default_wasm_dir() : options.wasm_dir;
  for (const char* name : kWasmFiles) {
    router.get(std::string("/") + name, [wasm_dir, name = std::string(name)](http::Request& req) {
      return serve_wasm_file(req, wasm_dir, name);
    });
  }
  router.get("/c/*", [](http::Request& req) { return app_shell(req); });

  auto api = std::make_shared<const Api>(Api{std::move(options)});
  router.get("/ui/api/conversations", [api](http::Request& req) { return api->list(req); });
  router.post("/ui/api/conversations", [api](http::Request& req) { return api->create(req); });
  router.get("/ui/api/conversations/*", [api](http::Request& req) { return api->read(req); });
  router.post("/ui/api/conversations/*", [api](http::Request& req) { return api->write(req); });
  router.add("DELETE", "/ui/api/conversations/*",
             [api](http::Request& req) { return api->remove(req); });
}

}  // namespace hearth::server
