// The OpenAI Responses API: POST /v1/responses, GET and DELETE /v1/responses/{id}.
// A request is translated into a chat completions request (responses_translate.h), answered
// by the chat completions path of openai_routes (so local models, routes and metrics behave
// the same), and its answer (JSON or chunk stream) translated back. Stored responses live in
// a ResponseStore; previous_response_id continues a stored conversation.
#pragma once

#include <memory>
#include <string>

#include "http/router.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/model_router.h"
#include "server/response_store.h"

namespace hearth::server {

struct ResponsesContext {
  ModelRegistry* registry = nullptr;    // must outlive the server
  Metrics* metrics = nullptr;           // must outlive the server
  ModelRouter* model_router = nullptr;  // may be null
  // Null when the store could not be opened: requests that need it (store: true,
  // previous_response_id, GET, DELETE) get 503 with `store_problem`; store: false still works.
  std::shared_ptr<ResponseStore> store;
  std::string store_problem;
};

void register_responses_routes(http::Router& router, ResponsesContext context);

}  // namespace hearth::server
