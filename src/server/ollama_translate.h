// The JSON mapping between Ollama's API (/api/chat, /api/generate, /api/embed, ...) and
// hearth's OpenAI-shaped requests and events. Pure functions over values: no model, no
// registry, no I/O, so every rule is unit-tested (ollama_translate_test.cpp). The routes that
// use them live in ollama_routes.cpp.
//
// Direction in: an Ollama body becomes the OpenAI body that parse_chat_request /
// parse_completion_request already validate, plus the few things OpenAI has no field for
// (num_ctx, keep_alive, raw/template). Fields of the wrong type are a 400 naming the field
// as Ollama spells it ("options.temperature").
// Direction out: text, reasoning and tool calls (OpenAI's message/delta shape) and a done
// event with timings become Ollama's chunks, durations in nanoseconds.
//
// Thread-safety: stateless; call from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_error.h"
#include "server/request_stream.h"

namespace hearth::server::ollama {

using json = nlohmann::ordered_json;

// The API level hearth answers /api/version with: clients gate features (think, tools,
// structured outputs) on it, and hearth speaks those.
inline constexpr std::string_view kCompatibleVersion = "0.12.0";

// ---- names ----------------------------------------------------------------------------

// The names to try, in order, for an Ollama model name: the name as typed, then
// `base-tag` (`qwen2.5:0.5b` -> `qwen2.5-0.5b`), and the bare base for `:latest` or no tag.
// Duplicates are removed. Empty for an empty name.
std::vector<std::string> name_candidates(std::string_view name);

// How a catalog variant is listed: `alias:quantization` (resolvable as typed).
std::string variant_name(std::string_view alias, std::string_view quantization);
// How a model served under `id` is listed: the id, with `:latest` when it has no tag.
std::string served_name(std::string_view id);

// ---- keep_alive -----------------------------------------------------------------------

// What keep_alive asked for: nullopt (absent: the server's TTL), kForever (negative), kNow
// (0: unload after the answer) or a number of seconds.
struct KeepAlive {
  static constexpr int kForever = -1;
  int seconds = 0;  // kForever, 0 or > 0
};
// keep_alive as a number of seconds or a Go duration string ("5m", "1h30m", "10s", "-1",
// "300ms" rounds up to whole seconds). 400 naming keep_alive otherwise.
ApiResult<std::optional<KeepAlive>> parse_keep_alive(const json& body);

// ---- requests -------------------------------------------------------------------------

// An Ollama request translated for the OpenAI parsers.
struct Translated {
  json openai;                     // body for parse_chat_request / parse_completion_request
  std::string model;               // as the client named it
  bool stream = true;              // Ollama streams unless "stream": false
  bool completion = false;         // a raw /api/generate: a completion, not a chat
  bool load_only = false;          // no messages / empty prompt: load (or unload) the model
  std::optional<int32_t> num_ctx;  // options.num_ctx: the prompt must fit it
  std::optional<KeepAlive> keep_alive;
};

// Ollama's sampling defaults where the request sets none (temperature 0.8, top_k 40,
// top_p 0.9), so replies look like Ollama's.
ApiResult<Translated> translate_chat(const json& body);
// /api/generate: `prompt` (+ `system`) rendered with the model's chat template; with
// `raw: true` the prompt is used as it is; `template` may use {{ .System }}, {{ .Prompt }} and
// {{ .Response }} (other template syntax is a 400) and makes the request raw.
ApiResult<Translated> translate_generate(const json& body);

// /api/embed (`input`: string or array of strings) and the older /api/embeddings
// (`prompt`: one string): the OpenAI embeddings body.
struct TranslatedEmbed {
  json openai;
  std::string model;
  bool legacy = false;  // /api/embeddings: answer {"embedding": [...]}
  std::optional<KeepAlive> keep_alive;
};
ApiResult<TranslatedEmbed> translate_embed(const json& body, bool legacy);

// The model name of /api/show, /api/pull, /api/delete (`model`, or the older `name`).
ApiResult<std::string> model_field(const json& body);

// ---- answers --------------------------------------------------------------------------

// RFC 3339 with nanoseconds, UTC, as Ollama writes created_at.
std::string rfc3339(std::chrono::system_clock::time_point t);

// An OpenAI message or delta ({content, reasoning_content, tool_calls}) as Ollama's message:
// content, thinking, and tool_calls whose arguments are objects (OpenAI sends strings).
json ollama_message(const json& openai_message);

// One streamed piece: {"model","created_at","message":{...},"done":false} for chat,
// {"model","created_at","response","thinking"?,"done":false} for generate.
json chat_chunk(const std::string& model, const std::string& created_at, const json& message);
json generate_chunk(const std::string& model, const std::string& created_at, const json& message);

struct Timings {
  int64_t total_ns = 0;
  int64_t load_ns = 0;
  int64_t prompt_eval_ns = 0;
  int64_t eval_ns = 0;
};

// Adds what a final chunk carries to `chunk` (a chat or generate chunk): done, done_reason,
// the durations and the token counts of `done`.
void add_final_fields(json& chunk, const StreamEvent& done, const Timings& timings);

// Ollama's error body: {"error": "message"}.
json error_body(const ApiError& error);

}  // namespace hearth::server::ollama
