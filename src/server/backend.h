// What the routes talk to: something that answers chat, completion and embedding requests
// for one model id. The first implementation is the local engine (ServedModel); a remote
// OpenAI-compatible endpoint or a router choosing between backends implements the same
// interface, so the routes do not change when one stands where a local model stands.
//
// Contract: every check that depends on the model (tokenizing, vocabulary, prompt length,
// model kind) happens behind this interface; the routes only parse the request and format
// the answer. Generation answers with the transport-neutral RequestStream (server/scheduler.h):
// zero or more text events, then one done or error event. Embeddings are one answer, not a
// stream. Failures are ApiErrors so a backend keeps OpenAI's precise shapes
// (context_length_exceeded, ...); an engine or catalog Error becomes one through
// api_error_from (api_error.h).
//
// Thread-safety: every method may be called from many request threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/scheduler.h"

namespace hearth::server {

struct BackendCapabilities {
  bool chat = false;
  bool completion = false;
  bool embeddings = false;
  bool tools = false;        // renders `tools` into the prompt
  bool json_output = false;  // response_format json_object / json_schema
  int context_length = 0;    // tokens a request may use (prompt + output)
};

struct BackendHealth {
  bool ready = false;  // accepts requests now
  int in_flight = 0;   // requests queued or running
};

struct Embeddings {
  std::vector<std::vector<float>> vectors;  // one per input, L2-normalized
  int64_t prompt_tokens = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // The model id requests name, and when it became available (unix seconds).
  virtual const std::string& id() const = 0;
  virtual int64_t created() const = 0;
  virtual BackendCapabilities capabilities() const = 0;
  virtual BackendHealth health() const = 0;

  virtual ApiResult<std::shared_ptr<RequestStream>> chat(const ChatRequest& request) = 0;
  virtual ApiResult<std::shared_ptr<RequestStream>> complete(const CompletionRequest& request) = 0;
  virtual ApiResult<Embeddings> embed(const EmbeddingRequest& request) = 0;
  // Prompt tokens `request` renders to (grounded chat fits its sources with it). A backend
  // that cannot tell (a remote one) answers nullopt and the caller estimates.
  virtual std::optional<int> count_chat_tokens(const ChatRequest& request) {
    (void)request;
    return std::nullopt;
  }

  // Stops taking requests; running ones finish (drain) or are cancelled.
  virtual void shutdown(bool drain) = 0;
};

}  // namespace hearth::server
