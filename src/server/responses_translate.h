// The OpenAI Responses API mapped onto chat completions, as pure JSON functions: a Responses
// request becomes a chat completions request, and a chat completion (or its stream of
// chunks) becomes a Response object (or the Responses event stream). No model, no I/O, no
// clock: every rule here is unit-tested on canned JSON (responses_translate_test.cpp).
//
// Mapping, in short:
//   input string / message items      -> chat messages (content parts joined as text)
//   function_call input items         -> an assistant message with `tool_calls`
//   function_call_output input items  -> `tool` messages with `tool_call_id`
//   instructions                      -> a leading system message (not kept in the history)
//   tools {type:function,name,...}    -> chat tools {type:function,function:{name,...}}
//   text.format                       -> response_format
//   chat content / tool_calls / reasoning_content -> message / function_call / reasoning items
//
// Thread-safety: free functions are reentrant; a ResponsesStreamTranslator is used by one
// thread at a time.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/api_error.h"

namespace hearth::server {

struct ResponsesRequest {
  std::string model;             // may be empty: the server's default model
  nlohmann::ordered_json input;  // chat messages made from `input`
  std::optional<std::string> instructions;
  std::optional<int64_t> max_output_tokens;
  nlohmann::ordered_json temperature;      // null when absent; range checked by the chat parser
  nlohmann::ordered_json top_p;            // null when absent
  nlohmann::ordered_json tools;            // as the client sent them (Responses shape), or []
  nlohmann::ordered_json chat_tools;       // the same in chat shape, or null
  nlohmann::ordered_json tool_choice;      // as sent, default "auto"
  nlohmann::ordered_json text;             // as sent, default {"format":{"type":"text"}}
  nlohmann::ordered_json response_format;  // chat shape, or null for plain text
  nlohmann::ordered_json metadata;         // an object, default {}
  bool stream = false;
  bool store = true;
  std::string previous_response_id;  // empty: none
};

// Validates a POST /v1/responses body; a wrong field is a 400 naming it ("input[2].type").
ApiResult<ResponsesRequest> parse_responses_request(const nlohmann::ordered_json& body);

// Converts Responses input items (or output items, which have the same shape) into chat
// messages. `param` names the field in errors ("input").
ApiResult<nlohmann::ordered_json> items_to_chat_messages(const nlohmann::ordered_json& items,
                                                         const std::string& param);

// The chat completions request for `request`, after `history` (the chat messages of the
// previous response's conversation, or an empty array). Streams ask for usage.
nlohmann::ordered_json build_chat_request(const ResponsesRequest& request,
                                          const nlohmann::ordered_json& history);

// The Response object before generation: status "in_progress", no output, no usage.
nlohmann::ordered_json response_skeleton(const ResponsesRequest& request, const std::string& id,
                                         int64_t created_at, const std::string& model);

// What a finished chat completion becomes.
struct ResponseOutcome {
  nlohmann::ordered_json response;  // the complete Response object
  nlohmann::ordered_json messages;  // its output as chat messages, for the stored history
};

// A non-streamed chat completion into the finished Response. Item ids are
// "<kind>_<id_base>_<n>" so a Response's items are unique and stable. A completion with no
// choice is an error (500, it is the server's own output).
ApiResult<ResponseOutcome> response_from_chat_completion(nlohmann::ordered_json skeleton,
                                                         const nlohmann::ordered_json& completion,
                                                         const std::string& id_base);

// Chat usage {prompt_tokens, completion_tokens, ...} as Responses usage.
nlohmann::ordered_json responses_usage(const nlohmann::ordered_json& chat_usage);

// One Responses SSE event: "event: TYPE\ndata: {...}\n\n".
std::string responses_sse(const nlohmann::ordered_json& event);

// Splits the text of a chat completions SSE body (written in pieces of any size) into its
// data payloads: chunk objects, an error object, or the end marker.
class ChatSseReader {
 public:
  struct Event {
    enum class Kind { kChunk, kError, kDone } kind = Kind::kChunk;
    nlohmann::ordered_json data;  // the chunk, or the error's inner object
  };
  // Appends `text` and returns the events it completed; CR characters are dropped (an
  // upstream may end lines with CRLF) and data that is not JSON is skipped.
  std::vector<Event> feed(std::string_view text);

 private:
  std::string pending_;
};

// Turns chat.completion.chunk objects, in order, into Responses stream events (SSE text).
// start() first, then on_chunk() per chunk (or on_error()), then finish() once.
class ResponsesStreamTranslator {
 public:
  ResponsesStreamTranslator(nlohmann::ordered_json skeleton, std::string id_base);

  // response.created and response.in_progress; `model` (if not empty) replaces the
  // skeleton's model, since the first chunk names the model that answers.
  std::string start(const std::string& model = {});
  std::string on_chunk(const nlohmann::ordered_json& chunk);
  // An error object ({"message",...}) that arrived in the stream.
  void on_error(const nlohmann::ordered_json& error);
  // Closes open items and writes the terminal event: response.completed, response.incomplete
  // (finish_reason "length") or response.failed (an error, or the chunks ended without a
  // finish_reason).
  std::string finish();

  bool started() const { return started_; }
  bool finished() const { return finished_; }
  // After finish(): the final Response and its output as chat messages.
  const ResponseOutcome& outcome() const { return outcome_; }

 private:
  std::string emit(nlohmann::ordered_json event);
  std::string open_message();
  std::string close_open_item();
  std::string next_item_id(const char* kind);

  nlohmann::ordered_json response_;
  std::string id_base_;
  int64_t sequence_ = 0;
  int item_counter_ = 0;
  nlohmann::ordered_json output_ = nlohmann::ordered_json::array();
  // The item being streamed: none, a message (text), a function call or reasoning.
  enum class Open { kNone, kMessage, kFunctionCall, kReasoning } open_ = Open::kNone;
  std::string open_text_;  // text or arguments of the open item
  int open_tool_index_ = -1;
  nlohmann::ordered_json open_item_;
  nlohmann::ordered_json finish_reason_;
  nlohmann::ordered_json usage_;
  nlohmann::ordered_json error_;
  bool started_ = false;
  bool finished_ = false;
  ResponseOutcome outcome_;
};

}  // namespace hearth::server
