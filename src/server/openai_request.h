// Parsing and validating OpenAI request bodies into engine terms. Pure functions: no model,
// no I/O, so every rule is unit-tested. Unknown fields are ignored, as OpenAI's clients
// expect; a field of the wrong type or out of range is a 400 that names it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/sampler/sampler.h"
#include "server/api_error.h"

namespace hearth::server {

enum class ResponseFormat { kText, kJsonObject, kJsonSchema };

// Fields shared by /v1/chat/completions and /v1/completions.
struct GenerationRequest {
  std::string model;  // may be empty: the server's default model
  bool stream = false;
  bool include_usage = false;         // stream_options.include_usage
  std::optional<int32_t> max_tokens;  // max_tokens or max_completion_tokens
  SamplerParams sampling;
  std::vector<std::string> stop;
  bool ignore_eos = false;  // llama-server extension, used by benchmarks
  ResponseFormat response_format = ResponseFormat::kText;
  nlohmann::ordered_json json_schema;  // response_format.json_schema.schema, when given
  // The client's own context size (Ollama's options.num_ctx), at most the server's: a prompt
  // longer than it is a 400 naming both numbers, never truncated. Not an OpenAI field.
  std::optional<int32_t> context_limit;
  // Not a request field: set by a backend that parses tool calls whose markers are control
  // tokens, so the detokenizer shows them.
  bool render_special_tokens = false;
  // Chat: logprobs true (+ top_logprobs 0..20); completions: logprobs N (0..20). -1: off.
  int top_logprobs = -1;
  // Speculative decoding for this request (not an OpenAI field): false turns it off, true
  // turns it on (the server's --speculate mode, or prompt lookup when the server has none);
  // absent: the server's mode.
  std::optional<bool> speculative;
};

enum class ToolChoice { kAuto, kNone, kRequired, kFunction };

struct ChatRequest : GenerationRequest {
  nlohmann::ordered_json messages;  // array of {role, content (string), ...}; content parts joined
  nlohmann::ordered_json tools;     // null when absent; validated (see docs/api.md)
  std::vector<std::string> tool_names;  // tools[].function.name, in order
  ToolChoice tool_choice = ToolChoice::kAuto;
  std::string tool_choice_name;  // kFunction: the function the model must call
  bool parallel_tool_calls = true;
  // Extra variables for the chat template (e.g. {"enable_thinking": false}); null when absent.
  nlohmann::ordered_json chat_template_kwargs;
};

// True when the reply should be searched for tool calls: tools were given and not turned off.
inline bool wants_tool_calls(const ChatRequest& r) {
  return !r.tool_names.empty() && r.tool_choice != ToolChoice::kNone;
}
// True when the model must call a tool (required, or a named function): decoding is then
// constrained to one call (tool_call_schema).
inline bool forces_tool_call(const ChatRequest& r) {
  return !r.tool_names.empty() &&
         (r.tool_choice == ToolChoice::kRequired || r.tool_choice == ToolChoice::kFunction);
}
// The JSON schema of the one call a forced request must produce:
// {"name": <one of the allowed names>, "arguments": <that function's parameters>}; with
// several allowed functions a oneOf told apart by "name" (each branch that function's own
// arguments).
nlohmann::ordered_json tool_call_schema(const ChatRequest& r);
// The same for any list of `names` from `tools`, with the arguments under `arguments_key`
// (Llama 3.x writes "parameters").
nlohmann::ordered_json tool_call_union_schema(const nlohmann::ordered_json& tools,
                                              const std::vector<std::string>& names,
                                              const std::string& arguments_key);

struct CompletionRequest : GenerationRequest {
  std::string prompt;                  // a text prompt, or
  std::vector<int32_t> prompt_tokens;  // a prompt given as token ids
  bool echo = false;
};

struct EmbeddingRequest {
  std::string model;
  std::vector<std::string> inputs;  // `input` as a string or an array of strings
  bool base64 = false;              // encoding_format "base64": little-endian float32 bytes
};

// Default sampling when a client sends no parameters: OpenAI's temperature 1 and top_p 1,
// with no top-k or min-p cut, so results match what clients expect from the API.
SamplerParams openai_default_sampling();

ApiResult<nlohmann::ordered_json> parse_json_body(const std::string& body);
ApiResult<ChatRequest> parse_chat_request(const nlohmann::ordered_json& body);
ApiResult<CompletionRequest> parse_completion_request(const nlohmann::ordered_json& body);
ApiResult<EmbeddingRequest> parse_embedding_request(const nlohmann::ordered_json& body);

}  // namespace hearth::server
