// The chat message a reply parser's events add up to, whole and batch by batch (the Ollama
// routes send each batch as one NDJSON chunk).
#include "server/chat_reply.h"

#include <gtest/gtest.h>

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

ChatRequest hermes_request() {
  ChatRequest chat;
  chat.tool_names = {"get_weather", "get_time"};
  return chat;
}

ChatReplySyntax hermes_with_thinking() {
  ChatReplySyntax syntax;
  syntax.tool_format = ToolCallFormat::kHermes;
  syntax.thinking = true;
  return syntax;
}

const char* const kReply =
    "<think>The user wants two things.</think>Checking. "
    "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}</tool_call>"
    "<tool_call>{\"name\": \"get_time\", \"arguments\": {\"zone\": \"CET\"}}</tool_call>";

TEST(ChatReply, AWholeReplyBecomesReasoningContentAndCalls) {
  ToolCallParser parser = make_reply_parser(hermes_request(), hermes_with_thinking());
  ChatMessage message;
  message.absorb(parser.feed(kReply));
  message.absorb(parser.finish());
  const json j = message.to_json();
  EXPECT_EQ(j["reasoning_content"], "The user wants two things.");
  EXPECT_EQ(j["content"], "Checking. ");
  ASSERT_EQ(j["tool_calls"].size(), 2u);
  EXPECT_EQ(j["tool_calls"][0]["function"]["name"], "get_weather");
  EXPECT_EQ(json::parse(j["tool_calls"][0]["function"]["arguments"].get<std::string>()),
            json::parse(R"({"city":"Oslo"})"));
  EXPECT_EQ(j["tool_calls"][1]["function"]["name"], "get_time");
  EXPECT_EQ(chat_finish_reason(FinishReason::kStop, parser.calls()), "tool_calls");
  EXPECT_EQ(chat_finish_reason(FinishReason::kLength, parser.calls()), "length");
}

// Fed four characters at a time, each batch's message is a delta; the calls arrive whole
// (start and arguments in one batch), so a per-batch message carries complete calls.
TEST(ChatReply, BatchesAddUpToTheWholeReply) {
  ToolCallParser parser = make_reply_parser(hermes_request(), hermes_with_thinking());
  const std::string reply = kReply;
  std::string content, reasoning;
  std::vector<json> calls;
  auto take = [&](const std::vector<ToolCallEvent>& events) {
    ChatMessage delta;
    delta.absorb(events);
    if (delta.empty()) return;
    const json j = delta.to_json();
    if (j["content"].is_string()) content += j["content"].get<std::string>();
    if (j.contains("reasoning_content")) reasoning += j["reasoning_content"].get<std::string>();
    if (j.contains("tool_calls")) {
      for (const auto& call : j["tool_calls"]) calls.push_back(call);
    }
  };
  for (size_t i = 0; i < reply.size(); i += 4) take(parser.feed(reply.substr(i, 4)));
  take(parser.finish());
  EXPECT_EQ(reasoning, "The user wants two things.");
  EXPECT_EQ(content, "Checking. ");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(json::parse(calls[1]["function"]["arguments"].get<std::string>()),
            json::parse(R"({"zone":"CET"})"));
}

TEST(ChatReply, WithoutToolsEverythingIsContentAndContentIsNeverNull) {
  ChatRequest chat;  // no tools
  ToolCallParser parser = make_reply_parser(chat, ChatReplySyntax{});
  ChatMessage message;
  message.absorb(parser.feed("<tool_call>{\"name\": \"x\", \"arguments\": {}}</tool_call>"));
  message.absorb(parser.finish());
  const json j = message.to_json();
  EXPECT_EQ(j["content"], "<tool_call>{\"name\": \"x\", \"arguments\": {}}</tool_call>");
  EXPECT_FALSE(j.contains("tool_calls"));
}

}  // namespace
}  // namespace hearth::server
