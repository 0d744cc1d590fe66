// Ollama's API over hearth's backends, so tools that speak only Ollama (Open WebUI's Ollama
// connection, the `ollama` client libraries, editors) work against `hearth serve`:
//   GET  /                  "Ollama is running" (HEAD too); a browser gets the web app
//                           (OllamaRoutesOptions::root_page, web_routes.h)
//   GET  /api/version       {"version": ...}
//   GET  /api/tags          cached catalog variants and loaded models
//   GET  /api/ps            loaded models
//   POST /api/show          details, capabilities, template, model_info (GGUF metadata)
//   POST /api/chat          NDJSON stream by default, or one object with "stream": false
//   POST /api/generate      the same for a prompt (chat template, or raw / template)
//   POST /api/embed, /api/embeddings
//   POST /api/pull          download through the catalog, streamed status lines
//   DELETE /api/delete      remove a cached variant
// and JSON 501 for every other /api/* path. Requests are translated (ollama_translate.h) into
// the OpenAI request types and answered by the same Backend, so everything the chat path
// supports (JSON mode, schemas, tools, thinking) is here too.
//
// Errors are Ollama's {"error": "..."} with the status hearth gives the failure.
// Thread-safety: handlers run on many worker threads at once; everything they share
// (registry, metrics, catalog) is thread-safe.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "http/router.h"
#include "server/metrics.h"
#include "server/model_registry.h"

namespace hearth::server {

struct OllamaRoutesOptions {
  std::filesystem::path home;                       // $HEARTH_HOME (the model cache)
  std::shared_ptr<const catalog::Catalog> catalog;  // the process's catalog; required
  bool allow_download = true;                       // /api/pull (false: 403)
  // GET / asks this first (the web app for a browser); nullopt, or unset: "Ollama is running".
  std::function<std::optional<http::Response>(const http::Request&)> root_page;
};

// Registers every route above on `router`; `registry` and `metrics` must outlive the server.
void register_ollama_routes(http::Router& router, ModelRegistry& registry, Metrics& metrics,
                            OllamaRoutesOptions options);

// Paths that need no API key: "/" and "/api/version" (liveness probes).
std::vector<std::string> ollama_public_paths();

// The model-management half (tags, ps, show, pull, delete), in ollama_model_routes.cpp;
// register_ollama_routes calls it.
void register_ollama_model_routes(http::Router& router, ModelRegistry& registry,
                                  std::shared_ptr<const OllamaRoutesOptions> options);

// Ollama's error response: {"error": message} with the error's status and Retry-After.
http::Response ollama_error(const ApiError& error);

}  // namespace hearth::server
