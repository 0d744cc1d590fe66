// The web app (docs/web.md) over HTTP:
//   GET /                 the app when the client asks for HTML (Accept: text/html), else
//                         Ollama's "Ollama is running" (ollama_routes.cpp calls web_root)
//   GET /assets/*         the embedded files (src/web/assets.h) with their content types
//   GET /c/*, /compare, /models, /documents, /browser
//                         the app's own routes (a reload lands on the app, which reads the path)
//   GET /hearth.js, /hearth-*.js, ...
//                         the browser engine's JS package (wasm/js/, embedded with the app)
//   GET /hearth_wasm.js, /hearth_wasm.wasm, /hearth_wasm_mt.{js,wasm,worker.js}
//                         its WebAssembly builds (single-threaded; threaded, with its pthread
//                         Workers' script), read from WebRoutesOptions::wasm_dir (a 404 saying
//                         how to build them when absent)
//   /ui/api/conversations the conversations the app keeps server-side (conversation_store.h):
//     GET    /ui/api/conversations?q=TEXT      newest first, optionally searched
//     POST   /ui/api/conversations             create {title, model, system_prompt, params,
//                                              messages}
//     GET    /ui/api/conversations/ID          one, with its messages
//     GET    /ui/api/conversations/ID/export   the same as a download (Content-Disposition)
//     POST   /ui/api/conversations/ID          update: the fields given (messages replaces all)
//     POST   /ui/api/conversations/ID/messages append {messages: [...]}
//     DELETE /ui/api/conversations/ID
//
// Every page and asset carries a Content-Security-Policy with no origin but the server's own
// (plus 'wasm-unsafe-eval', which lets the page compile WebAssembly and nothing else),
// Cross-Origin-Opener-Policy: same-origin, Cross-Origin-Embedder-Policy: require-corp and
// Cross-Origin-Resource-Policy: same-origin (so the page is cross-origin isolated: the browser
// engine may use SharedArrayBuffer and precise timers), X-Content-Type-Options: nosniff and an ETag
// (Cache-Control: no-cache: the browser revalidates, so an upgraded binary is seen at once and an
// unchanged one costs a 304). The shell and its assets need no API key (they hold no data);
// /ui/api/* does, like /v1.
//
// Thread-safety: handlers run on many worker threads; the store serializes itself.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "http/router.h"
#include "server/conversation_store.h"

namespace hearth::server {

struct WebRoutesOptions {
  std::shared_ptr<ConversationStore> store;  // null: /ui/api answers 503 with store_problem
  std::string store_problem;
  // The browser engine's wasm build (hearth_wasm.js/.wasm); empty: default_wasm_dir().
  std::filesystem::path wasm_dir;
};

// Where the wasm build is looked for when --wasm-dir is not given: wasm/ beside the binary (an
// installed layout), then ../build-wasm/ (the source tree's `make test-wasm` output).
std::filesystem::path default_wasm_dir();

// Registers the routes above (not "/": see web_root). Call only when the app is on.
void register_web_routes(http::Router& router, WebRoutesOptions options);

// The answer to GET / for a client that accepts HTML: the app, or (a build without it) a page
// saying how to get it. nullopt for other clients.
std::optional<http::Response> web_root(const http::Request& req);

// Paths the app's shell is served on, and prefixes of its assets: public (no API key).
std::vector<std::string> web_public_paths();
std::vector<std::string> web_public_prefixes();

}  // namespace hearth::server
