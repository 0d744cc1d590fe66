// Reading a chat model's reply: the tool-call/reasoning parser a request needs, and the
// message it adds up to. Shared by the OpenAI chat route and the Ollama routes, so both
// split reasoning and tool calls the same way.
//
// Thread-safety: plain values; one request's reply is read by one thread at a time.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/openai_request.h"
#include "server/request_stream.h"
#include "server/tool_calls.h"

namespace hearth::server {

// The parser for `chat`'s reply, as the backend that rendered its prompt says the model
// writes (`syntax`: the stream's reply_syntax).
ToolCallParser make_reply_parser(const ChatRequest& chat, const ChatReplySyntax& syntax);

// The OpenAI chat message that parser events add up to: content, reasoning_content and
// tool_calls (arguments as JSON text). Events of any part of a reply may be absorbed; call
// indexes are the reply's own, so a ChatMessage of one batch of events is that batch's delta.
class ChatMessage {
 public:
  void absorb(const std::vector<ToolCallEvent>& events);
  bool empty() const { return content_.empty() && reasoning_.empty() && tool_calls_.empty(); }
  // {"role":"assistant","content":..,"reasoning_content"?:..,"tool_calls"?:..,"refusal":null};
  // content is null when the reply is only calls.
  nlohmann::ordered_json to_json() const;

 private:
  std::string content_;
  std::string reasoning_;
  nlohmann::ordered_json tool_calls_ = nlohmann::ordered_json::array();
  std::map<int, size_t> position_of_call_;  // the reply's call index -> tool_calls_ entry
};

// The streamed chat `delta` of one parser event, in OpenAI's shape: {"content"},
// {"reasoning_content"}, a call's start {"tool_calls":[{index, id, type, function:{name,
// arguments:""}}]} or an argument fragment {"tool_calls":[{index, function:{arguments}}]}.
nlohmann::ordered_json chat_delta(const ToolCallEvent& event);

// OpenAI reports "tool_calls" when the model stopped after calling.
std::string chat_finish_reason(FinishReason finish, int calls);

}  // namespace hearth::server
