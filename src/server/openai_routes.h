// The OpenAI-compatible routes under /v1, plus /health and /metrics. They parse requests,
// hand them to a Backend from the registry, and format its answers; model-specific checks
// live behind the Backend.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/router.h"
#include "server/metrics.h"
#include "server/model_files.h"
#include "server/model_registry.h"
#include "server/model_router.h"
#include "server/rag_service.h"
#include "server/request_stream.h"

namespace hearth::server {

// Registers the routes on `router`; `registry`, `metrics`, `model_router` (may be null:
// no router configured) and `rag` (may be null: no grounded chat) must outlive the server. A
// request whose `model` is one of `model_router`'s routes is handed to it whole; a chat
// request with a "rag" field is grounded through `rag` (docs/rag.md). With `files` (may be
// null), GET /v1/models/{id}/file serves a model's GGUF (model_files.h).
void register_openai_routes(http::Router& router, ModelRegistry& registry, Metrics& metrics,
                            ModelRouter* model_router = nullptr, RagService* rag = nullptr,
                            ModelFiles* files = nullptr);

// Answers one chat completions request in-process, exactly as POST /v1/chat/completions
// would (routing and metrics included; `req.body` is the chat request). Other protocols (the
// Responses API) translate into this instead of generating on their own.
http::Response run_chat_completion(const http::Request& req, ModelRegistry& registry,
                                   Metrics& metrics, ModelRouter* model_router);

// A reply's `timings` object (request_stream.h: llama-server's names plus queue_ms and
// ttft_ms), as the chat and completion routes send it; the router's local targets send the same.
nlohmann::ordered_json timings_json(const GenerationTimings& timings);

// Paths of these routes that need no API key (health checks, metrics scrapers).
std::vector<std::string> openai_public_paths();

}  // namespace hearth::server
