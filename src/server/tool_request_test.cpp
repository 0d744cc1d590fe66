// tools, tool_choice, parallel_tool_calls and tool messages in chat requests: validation, the
// forced-call schema, and how a tool round trip renders on the real chat templates.
#include <gtest/gtest.h>

#include "engine/chat/template.h"
#include "engine/sampler/json_schema.h"
#include "server/openai_request.h"
#include "server/tool_render.h"
#include "support/fixtures.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

const char* kWeatherTool = R"({"type": "function", "function": {"name": "get_weather",
  "description": "Weather in a city", "parameters": {"type": "object",
  "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
  "required": ["city"]}}})";
const char* kTimeTool = R"({"type": "function", "function": {"name": "get_time"}})";

json request_with(const std::string& extra) {
  return json::parse(R"({"messages": [{"role": "user", "content": "Weather in Paris?"}],
    "tools": [)" + std::string(kWeatherTool) +
                     "," + kTimeTool + "]" + extra + "}");
}

ApiError error_of(const json& body) {
  auto req = parse_chat_request(body);
  EXPECT_FALSE(req) << body.dump();
  return req ? ApiError{} : req.error();
}

TEST(ToolRequest, ToolChoiceVariants) {
  auto req = parse_chat_request(request_with(""));
  ASSERT_TRUE(req) << req.error().message;
  EXPECT_EQ(req->tool_names, (std::vector<std::string>{"get_weather", "get_time"}));
  EXPECT_EQ(req->tool_choice, ToolChoice::kAuto);
  EXPECT_TRUE(req->parallel_tool_calls);
  EXPECT_TRUE(wants_tool_calls(*req));
  EXPECT_FALSE(forces_tool_call(*req));

  req = parse_chat_request(request_with(R"(, "tool_choice": "none")"));
  ASSERT_TRUE(req);
  EXPECT_FALSE(wants_tool_calls(*req));

  req = parse_chat_request(
      request_with(R"(, "tool_choice": "required", "parallel_tool_calls": false)"));
  ASSERT_TRUE(req);
  EXPECT_TRUE(forces_tool_call(*req));
  EXPECT_FALSE(req->parallel_tool_calls);

  req = parse_chat_request(
      request_with(R"(, "tool_choice": {"type": "function", "function": {"name": "get_time"}})"));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->tool_choice, ToolChoice::kFunction);
  EXPECT_EQ(req->tool_choice_name, "get_time");
}

TEST(ToolRequest, BadToolInputIs400NamingTheField) {
  EXPECT_EQ(error_of(request_with(R"(, "tool_choice": "sometimes")")).param, "tool_choice");
  EXPECT_EQ(error_of(request_with(R"(, "tool_choice": 3)")).param, "tool_choice");
  EXPECT_EQ(error_of(request_with(
                         R"(, "tool_choice": {"type": "function", "function": {"name": "nope"}})"))
                .param,
            "tool_choice.function.name");
  EXPECT_EQ(error_of(request_with(R"(, "parallel_tool_calls": "yes")")).param,
            "parallel_tool_calls");
  auto body = json::parse(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": 5}}}]})");
  EXPECT_EQ(error_of(body).param, "tools[0].function.parameters");
  body = json::parse(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"name": "f", "parameters": "not a schema"}}]})");
  EXPECT_EQ(error_of(body).param, "tools[0].function.parameters");
  body = json::parse(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "function", "function": {"description": "no name"}}]})");
  EXPECT_EQ(error_of(body).param, "tools[0].function.name");
  body = json::parse(R"({"messages": [{"role": "user", "content": "x"}],
      "tools": [{"type": "retrieval"}]})");
  EXPECT_EQ(error_of(body).param, "tools[0].type");
  body = json::parse(R"({"messages": [{"role": "user", "content": "x"}], "tools": {}})");
  EXPECT_EQ(error_of(body).param, "tools");
  body = json::parse(R"({"messages": [{"role": "user", "content": "x"}],
      "tool_choice": "required"})");
  EXPECT_EQ(error_of(body).param, "tool_choice");
}

TEST(ToolRequest, ToolMessagesMustAnswerAnEarlierCall) {
  auto body = json::parse(R"({"messages": [
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_2", "content": "18C"}]})");
  EXPECT_EQ(error_of(body).param, "messages[2].tool_call_id");
  body["messages"][2]["tool_call_id"] = "call_1";
  auto req = parse_chat_request(body);
  ASSERT_TRUE(req) << req.error().message;
  // The arguments string became an object, which templates render with tojson.
  EXPECT_EQ(req->messages[1]["tool_calls"][0]["function"]["arguments"], json({{"city", "Paris"}}));
  body["messages"][1]["tool_calls"] = "x";
  EXPECT_EQ(error_of(body).param, "messages[1].tool_calls");
}

TEST(ToolRequest, ForcedCallSchemaCompilesAndUsesTheFunctionsParameters) {
  auto req = parse_chat_request(request_with(
      R"(, "tool_choice": {"type": "function", "function": {"name": "get_weather"}})"));
  ASSERT_TRUE(req);
  json schema = tool_call_schema(*req);
  EXPECT_EQ(schema["properties"]["name"]["enum"], json::array({"get_weather"}));
  EXPECT_EQ(schema["properties"]["arguments"]["required"], json::array({"city"}));
  EXPECT_TRUE(JsonSchema::compile(schema));
  req = parse_chat_request(request_with(R"(, "tool_choice": "required")"));
  ASSERT_TRUE(req);
  schema = tool_call_schema(*req);
  // Several functions: one branch each, told apart by the name, each with its own arguments.
  ASSERT_EQ(schema["oneOf"].size(), 2u);
  EXPECT_EQ(schema["oneOf"][0]["properties"]["name"]["const"], "get_weather");
  EXPECT_EQ(schema["oneOf"][0]["properties"]["arguments"]["required"], json::array({"city"}));
  EXPECT_EQ(schema["oneOf"][1]["properties"]["name"]["const"], "get_time");
  auto compiled = JsonSchema::compile(schema);
  ASSERT_TRUE(compiled);
  EXPECT_EQ((*compiled)->root().discriminator, "name");
}

// A full round trip as an OpenAI client sends it (content null beside tool_calls, arguments
// as a string, the tool result as an array of parts) renders on the real templates with the
// call and its result in the prompt.
TEST(ToolRequest, RoundTripRendersOnRealTemplates) {
  const auto dir = testing::fixtures_dir() / "templates";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "fixtures not found";
  auto body = json::parse(R"({"messages": [
      {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": null, "tool_calls": [{"id": "call_abc", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "call_abc", "name": "get_weather",
       "content": [{"type": "text", "text": "18 degrees, sunny"}]}],
    "tools": [)" + std::string(kWeatherTool) +
                          "]}");
  auto req = parse_chat_request(body);
  ASSERT_TRUE(req) << req.error().message;
  for (const char* file :
       {"Qwen-Qwen2.5-7B-Instruct.jinja", "qwen3-tokenizer_config.jinja",
        "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
        "meta-llama-Llama-3.1-8B-Instruct.jinja", "meta-llama-Llama-3.3-70B-Instruct.jinja",
        "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"}) {
    auto tmpl = chat::ChatTemplate::parse(testing::read_file(dir / file));
    ASSERT_TRUE(tmpl) << file;
    const chat::ModelChatTemplate model{*tmpl, false, "<s>", "</s>", ""};
    chat::ChatRequest chat;
    chat.messages = req->messages;
    apply_tool_message_style(chat.messages, probe_tool_message_style(model));
    chat.tools = req->tools;
    chat.bos_token = "<s>";
    chat.eos_token = "</s>";
    auto text = chat::apply_chat_template(*tmpl, chat);
    ASSERT_TRUE(text) << file << ": " << text.error().message;
    EXPECT_NE(text->find("get_weather"), std::string::npos) << file;
    EXPECT_NE(text->find("Paris"), std::string::npos) << file;
    EXPECT_NE(text->find("18 degrees, sunny"), std::string::npos) << file;
    // The arguments are rendered once, not as a JSON string inside a string.
    EXPECT_EQ(text->find("\\\"city\\\""), std::string::npos) << file << "\n" << *text;
  }
}

}  // namespace
}  // namespace hearth::server

namespace hearth::server {
namespace {

// Phi-4-mini's template shape: tools are a system message's own field.
TEST(ToolRequest, ToolsReachATemplateThatReadsThemFromTheSystemMessage) {
  const char* source =
      "{% for message in messages %}{% if message['role'] == 'system' and 'tools' in message "
      "and message['tools'] is not none %}{{ '<|system|>' + message['content'] + '<|tool|>' + "
      "message['tools'] + '<|/tool|>' + '<|end|>' }}{% else %}{{ '<|' + message['role'] + "
      "'|>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}<|assistant|>";
  ASSERT_TRUE(template_reads_message_tools(source));
  auto tmpl = chat::ChatTemplate::parse(source);
  ASSERT_TRUE(tmpl);
  auto req = parse_chat_request(request_with(""));
  ASSERT_TRUE(req);
  chat::ChatRequest chat;
  chat.messages = req->messages;
  attach_tools_to_system_message(chat.messages, req->tools);
  auto text = chat::apply_chat_template(*tmpl, chat);
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_TRUE(text->starts_with("<|system|><|tool|>[{\"name\":\"get_weather\"")) << *text;
  EXPECT_NE(text->find("<|user|>Weather in Paris?<|end|>"), std::string::npos);
}

TEST(LogprobsRequest, ChatAndCompletionFields) {
  auto chat = parse_chat_request(json::parse(
      R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true, "top_logprobs": 5})"));
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->top_logprobs, 5);
  chat = parse_chat_request(
      json::parse(R"({"messages": [{"role": "user", "content": "x"}], "logprobs": true})"));
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->top_logprobs, 0);
  chat = parse_chat_request(json::parse(R"({"messages": [{"role": "user", "content": "x"}]})"));
  ASSERT_TRUE(chat);
  EXPECT_EQ(chat->top_logprobs, -1);
  EXPECT_EQ(error_of(json::parse(
                         R"({"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2})"))
                .param,
            "top_logprobs");
  EXPECT_EQ(error_of(json::parse(R"({"messages": [{"role": "user", "content": "x"}],
                "logprobs": true, "top_logprobs": 21})"))
                .param,
            "top_logprobs");
  EXPECT_EQ(error_of(json::parse(R"({"messages": [{"role": "user", "content": "x"}],
                "logprobs": 3})"))
                .param,
            "logprobs");
  auto completion = parse_completion_request(json::parse(R"({"prompt": "x", "logprobs": 2})"));
  ASSERT_TRUE(completion);
  EXPECT_EQ(completion->top_logprobs, 2);
  auto bad = parse_completion_request(json::parse(R"({"prompt": "x", "logprobs": -1})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().param, "logprobs");
}

}  // namespace
}  // namespace hearth::server
