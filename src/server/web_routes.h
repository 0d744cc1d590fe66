// The web app (docs/web.md) over HTTP:
//   GET /                 the app when the client asks for HTML (Accept: text/html), else
//                         Ollama's "Ollama is running" (ollama_routes.cpp calls web_root)
//   GET /assets/*         the embedded files (src/web/assets.h) with their content types
//   GET /c/*, /compare, /models, /documents
//                         the app's own routes (a reload lands on the app, which reads the path)
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
// Every page and asset carries a Content-Security-Policy with no origin but the server's own,
// X-Content-Type-Options: nosniff and an ETag (Cache-Control: no-cache: the browser revalidates,
// so an upgraded binary is seen at once and an unchanged one costs a 304).
// The shell and its assets need no API key (they hold no data); /ui/api/* does, like /v1.
//
// Thread-safety: handlers run on many worker threads; the store serializes itself.
#pragma once

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
};

// Registers the routes above (not "/": see web_root). Call only when the app is on.
void register_web_routes(http::Router& router, WebRoutesOptions options);

// The answer to GET / for a client that accepts HTML: the app, or (a build without it) a page
// saying how to get it. nullopt for other clients.
std::optional<http::Response> web_root(const http::Request& req);

// Paths the app's shell is served on, and prefixes of its assets: public (no API key).
std::vector<std::string> web_public_paths();
std::vector<std::string> web_public_prefixes();

}  // namespace hearth::server
