// The OpenAI-compatible routes under /v1, plus /health and /metrics.
#pragma once

#include "server/http_server.h"
#include "server/metrics.h"
#include "server/model_registry.h"

namespace hearth::server {

// Registers the routes on `http`; `registry` and `metrics` must outlive the server.
void register_openai_routes(HttpServer& http, ModelRegistry& registry, Metrics& metrics);

}  // namespace hearth::server
