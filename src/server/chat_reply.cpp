#include "server/chat_reply.h"

#include <utility>

namespace hearth::server {

using json = nlohmann::ordered_json;

ToolCallParser make_reply_parser(const ChatRequest& chat, const ChatReplySyntax& syntax) {
  ToolCallParserOptions o;
  o.format = syntax.forced_call ? ToolCallFormat::kGeneric : syntax.tool_format;
  o.parse_calls = wants_tool_calls(chat);
  o.tool_names = chat.tool_choice == ToolChoice::kFunction
                     ? std::vector<std::string>{chat.tool_choice_name}
                     : chat.tool_names;
  if (!chat.parallel_tool_calls) o.max_calls = 1;
  o.split_reasoning = syntax.thinking;
  o.starts_in_reasoning = syntax.starts_in_thinking;
  return ToolCallParser(std::move(o));
}

void ChatMessage::absorb(const std::vector<ToolCallEvent>& events) {
  for (const auto& e : events) {
    switch (e.kind) {
      case ToolCallEvent::Kind::kContent: content_ += e.text; break;
      case ToolCallEvent::Kind::kReasoning: reasoning_ += e.text; break;
      case ToolCallEvent::Kind::kCallStart:
        position_of_call_[e.index] = tool_calls_.size();
        tool_calls_.push_back({{"id", e.id},
                               {"type", "function"},
                               {"function", {{"name", e.name}, {"arguments", ""}}}});
        break;
      case ToolCallEvent::Kind::kArguments: {
        const auto at = position_of_call_.find(e.index);
        if (at == position_of_call_.end()) break;  // its start was in an earlier batch
        auto& args = tool_calls_[at->second]["function"]["arguments"];
        args = args.get<std::string>() + e.text;
        break;
      }
    }
  }
}

json ChatMessage::to_json() const {
  json message = {{"role", "assistant"}};
  const bool calls = !tool_calls_.empty();
  message["content"] = calls && content_.empty() ? json(nullptr) : json(content_);
  if (!reasoning_.empty()) message["reasoning_content"] = reasoning_;
  if (calls) message["tool_calls"] = tool_calls_;
  message["refusal"] = nullptr;
  return message;
}

json chat_delta(const ToolCallEvent& e) {
  json delta = json::object();
  switch (e.kind) {
    case ToolCallEvent::Kind::kContent: delta["content"] = e.text; break;
    case ToolCallEvent::Kind::kReasoning: delta["reasoning_content"] = e.text; break;
    case ToolCallEvent::Kind::kCallStart:
      delta["tool_calls"] = json::array({{{"index", e.index},
                                          {"id", e.id},
                                          {"type", "function"},
                                          {"function", {{"name", e.name}, {"arguments", ""}}}}});
      break;
    case ToolCallEvent::Kind::kArguments:
      delta["tool_calls"] =
          json::array({{{"index", e.index}, {"function", {{"arguments", e.text}}}}});
      break;
  }
  return delta;
}

std::string chat_finish_reason(FinishReason finish, int calls) {
  if (calls > 0 && finish == FinishReason::kStop) return "tool_calls";
  return std::string(finish_reason_name(finish));
}

}  // namespace hearth::server
