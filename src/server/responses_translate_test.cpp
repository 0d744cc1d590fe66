#include "server/responses_translate.h"

#include <gtest/gtest.h>

#include <vector>

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

ResponsesRequest parse_ok(const json& body) {
  auto r = parse_responses_request(body);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message);
  return r ? *r : ResponsesRequest{};
}

std::string bad_param(const json& body) {
  auto r = parse_responses_request(body);
  EXPECT_FALSE(r.has_value()) << body.dump();
  if (r) return "";
  EXPECT_EQ(r.error().status, 400);
  return r.error().param;
}

// The events of an SSE text, as parsed JSON; checks each `event:` line names its data's type.
std::vector<json> parse_events(const std::string& sse) {
  std::vector<json> events;
  size_t pos = 0;
  while (pos < sse.size()) {
    const size_t end = sse.find("\n\n", pos);
    if (end == std::string::npos) break;
    const std::string block = sse.substr(pos, end - pos);
    pos = end + 2;
    const size_t nl = block.find('\n');
    EXPECT_EQ(block.substr(0, 7), "event: ");
    EXPECT_EQ(block.substr(nl + 1, 6), "data: ");
    json event = json::parse(block.substr(nl + 7));
    EXPECT_EQ(block.substr(7, nl - 7), event["type"].get<std::string>());
    events.push_back(std::move(event));
  }
  return events;
}

std::vector<std::string> types(const std::vector<json>& events) {
  std::vector<std::string> out;
  for (const auto& e : events) out.push_back(e["type"]);
  return out;
}

TEST(ResponsesTranslate, StringInputAndFieldsMapToAChatRequest) {
  auto req = parse_ok({{"model", "qwen"},
                       {"input", "Hello"},
                       {"instructions", "Be brief."},
                       {"max_output_tokens", 16},
                       {"temperature", 0},
                       {"top_p", 0.5},
                       {"stream", true},
                       {"text",
                        {{"format",
                          {{"type", "json_schema"},
                           {"name", "answer"},
                           {"schema", {{"type", "object"}}},
                           {"strict", true}}}}}});
  json chat = build_chat_request(req, json::array({{{"role", "user"}, {"content", "earlier"}}}));
  EXPECT_EQ(chat["model"], "qwen");
  ASSERT_EQ(chat["messages"].size(), 3u);
  EXPECT_EQ(chat["messages"][0], json({{"role", "system"}, {"content", "Be brief."}}));
  EXPECT_EQ(chat["messages"][1]["content"], "earlier");
  EXPECT_EQ(chat["messages"][2], json({{"role", "user"}, {"content", "Hello"}}));
  EXPECT_EQ(chat["max_tokens"], 16);
  EXPECT_EQ(chat["temperature"], 0);
  EXPECT_EQ(chat["top_p"], 0.5);
  EXPECT_EQ(chat["stream"], true);
  EXPECT_EQ(chat["stream_options"]["include_usage"], true);
  EXPECT_EQ(chat["response_format"]["type"], "json_schema");
  EXPECT_EQ(chat["response_format"]["json_schema"]["name"], "answer");
  EXPECT_EQ(chat["response_format"]["json_schema"]["schema"], json({{"type", "object"}}));
  EXPECT_TRUE(req.store);  // the default
  EXPECT_FALSE(chat.contains("tools"));
}

TEST(ResponsesTranslate, FunctionToolsAndToolChoiceTakeTheChatShape) {
  auto req = parse_ok({{"input", "weather?"},
                       {"tools", json::array({{{"type", "function"},
                                               {"name", "get_weather"},
                                               {"description", "Weather now"},
                                               {"parameters", {{"type", "object"}}}}})},
                       {"tool_choice", {{"type", "function"}, {"name", "get_weather"}}},
                       {"text", {{"format", {{"type", "json_object"}}}}}});
  json chat = build_chat_request(req, json::array());
  ASSERT_EQ(chat["tools"].size(), 1u);
  EXPECT_EQ(chat["tools"][0], json({{"type", "function"},
                                    {"function",
                                     {{"name", "get_weather"},
                                      {"description", "Weather now"},
                                      {"parameters", {{"type", "object"}}}}}}));
  EXPECT_EQ(chat["tool_choice"],
            json({{"type", "function"}, {"function", {{"name", "get_weather"}}}}));
  EXPECT_EQ(chat["response_format"], json({{"type", "json_object"}}));
  EXPECT_FALSE(chat.contains("model"));
  EXPECT_FALSE(chat.contains("stream"));
  // The Response echoes the tools as the client sent them.
  json skeleton = response_skeleton(req, "resp_x", 7, "qwen");
  EXPECT_EQ(skeleton["tools"][0]["name"], "get_weather");
  EXPECT_EQ(skeleton["status"], "in_progress");
  EXPECT_EQ(skeleton["model"], "qwen");
  EXPECT_EQ(skeleton["created_at"], 7);
}

TEST(ResponsesTranslate, ItemsBecomeMessagesToolCallsAndToolMessages) {
  json items = json::array(
      {{{"type", "message"},
        {"role", "user"},
        {"content", json::array({{{"type", "input_text"}, {"text", "What is "}},
                                 {{"type", "input_text"}, {"text", "the weather?"}}})}},
       {{"type", "message"},
        {"role", "assistant"},
        {"content", json::array({{{"type", "output_text"}, {"text", "Let me look."}}})}},
       {{"type", "function_call"},
        {"call_id", "call_1"},
        {"name", "get_weather"},
        {"arguments", "{\"city\":\"Oslo\"}"}},
       {{"type", "function_call"},
        {"call_id", "call_2"},
        {"name", "get_time"},
        {"arguments", "{}"}},
       {{"type", "function_call_output"}, {"call_id", "call_1"}, {"output", "12 C"}},
       {{"type", "function_call_output"}, {"call_id", "call_2"}, {"output", "noon"}},
       {{"role", "user"}, {"content", "thanks"}}});
  auto messages = items_to_chat_messages(items, "input");
  ASSERT_TRUE(messages) << messages.error().message;
  ASSERT_EQ(messages->size(), 5u);
  EXPECT_EQ((*messages)[0], json({{"role", "user"}, {"content", "What is the weather?"}}));
  const json& assistant = (*messages)[1];
  EXPECT_EQ(assistant["role"], "assistant");
  EXPECT_EQ(assistant["content"], "Let me look.");
  ASSERT_EQ(assistant["tool_calls"].size(), 2u);
  EXPECT_EQ(assistant["tool_calls"][0],
            json({{"id", "call_1"},
                  {"type", "function"},
                  {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Oslo\"}"}}}}));
  EXPECT_EQ(assistant["tool_calls"][1]["function"]["name"], "get_time");
  EXPECT_EQ((*messages)[2],
            json({{"role", "tool"}, {"tool_call_id", "call_1"}, {"content", "12 C"}}));
  EXPECT_EQ((*messages)[3]["tool_call_id"], "call_2");
  EXPECT_EQ((*messages)[4], json({{"role", "user"}, {"content", "thanks"}}));
}

TEST(ResponsesTranslate, AFunctionCallAfterAToolMessageStartsANewAssistantMessage) {
  json items = json::array(
      {{{"type", "function_call_output"}, {"call_id", "a"}, {"output", "x"}},
       {{"type", "function_call"}, {"call_id", "b"}, {"name", "f"}, {"arguments", "{}"}}});
  auto messages = items_to_chat_messages(items, "input");
  ASSERT_TRUE(messages);
  ASSERT_EQ(messages->size(), 2u);
  EXPECT_EQ((*messages)[1]["role"], "assistant");
  EXPECT_TRUE((*messages)[1]["content"].is_null());
  EXPECT_EQ((*messages)[1]["tool_calls"][0]["id"], "b");
}

TEST(ResponsesTranslate, BadInputNamesTheField) {
  EXPECT_EQ(bad_param({{"model", "m"}}), "input");
  EXPECT_EQ(bad_param({{"input", 5}}), "input");
  EXPECT_EQ(bad_param({{"input", json::array({{{"type", "image"}}})}}), "input[0].type");
  EXPECT_EQ(bad_param({{"input", json::array({"hi"})}}), "input[0]");
  EXPECT_EQ(bad_param({{"input", json::array({{{"role", "user"}, {"content", 3}}})}}),
            "input[0].content");
  EXPECT_EQ(bad_param({{"input", json::array({{{"role", "tool"}, {"content", "x"}}})}}),
            "input[0].role");
  EXPECT_EQ(
      bad_param({{"input", json::array({{{"role", "user"},
                                         {"content", json::array({{{"type", "input_image"},
                                                                   {"image_url", "x"}}})}}})}}),
      "input[0].content[0].type");
  EXPECT_EQ(bad_param({{"input", json::array({{{"role", "user"}, {"content", "ok"}},
                                              {{"type", "function_call"}, {"name", "f"}}})}}),
            "input[1].call_id");
  EXPECT_EQ(
      bad_param({{"input", json::array({{{"type", "function_call_output"}, {"call_id", "c"}}})}}),
      "input[0].output");
  EXPECT_EQ(bad_param({{"input", "x"}, {"max_output_tokens", "10"}}), "max_output_tokens");
  EXPECT_EQ(bad_param({{"input", "x"}, {"max_output_tokens", 0}}), "max_output_tokens");
  EXPECT_EQ(bad_param({{"input", "x"}, {"temperature", "hot"}}), "temperature");
  EXPECT_EQ(bad_param({{"input", "x"}, {"stream", "yes"}}), "stream");
  EXPECT_EQ(bad_param({{"input", "x"}, {"store", 1}}), "store");
  EXPECT_EQ(bad_param({{"input", "x"}, {"instructions", 1}}), "instructions");
  EXPECT_EQ(bad_param({{"input", "x"}, {"metadata", {{"k", 1}}}}), "metadata.k");
  EXPECT_EQ(bad_param({{"input", "x"}, {"metadata", {{"k", std::string(513, 'v')}}}}),
            "metadata.k");
  json many = json::object();
  for (int i = 0; i < 17; ++i) {
    std::string key = "k";
    key += std::to_string(i);  // not "k" + ...: g++ 12 warns falsely (-Wrestrict) on that
    many[key] = "v";
  }
  EXPECT_EQ(bad_param({{"input", "x"}, {"metadata", many}}), "metadata");
  EXPECT_EQ(bad_param({{"input", "x"}, {"previous_response_id", 3}}), "previous_response_id");
  EXPECT_EQ(bad_param({{"input", "x"}, {"tools", json::array({{{"type", "web_search"}}})}}),
            "tools[0].type");
  EXPECT_EQ(bad_param({{"input", "x"}, {"tools", json::array({{{"type", "function"}}})}}),
            "tools[0].name");
  EXPECT_EQ(bad_param({{"input", "x"}, {"tool_choice", "sometimes"}}), "tool_choice");
  EXPECT_EQ(bad_param({{"input", "x"}, {"text", {{"format", {{"type", "xml"}}}}}}),
            "text.format.type");
  EXPECT_EQ(bad_param({{"input", "x"}, {"text", {{"format", {{"type", "json_schema"}}}}}}),
            "text.format.schema");
}

json canned_completion(json message, const char* finish) {
  return {
      {"id", "chatcmpl-1"},
      {"object", "chat.completion"},
      {"model", "qwen"},
      {"choices",
       json::array({{{"index", 0}, {"message", std::move(message)}, {"finish_reason", finish}}})},
      {"usage",
       {{"prompt_tokens", 20},
        {"completion_tokens", 5},
        {"total_tokens", 25},
        {"prompt_tokens_details", {{"cached_tokens", 4}}}}}};
}

TEST(ResponsesTranslate, ChatCompletionTextBecomesAMessageItem) {
  auto req = parse_ok({{"input", "hi"}, {"metadata", {{"k", "v"}}}});
  auto outcome = response_from_chat_completion(
      response_skeleton(req, "resp_abc", 1, ""),
      canned_completion({{"role", "assistant"}, {"content", "Hello!"}}, "stop"), "abc");
  ASSERT_TRUE(outcome) << outcome.error().message;
  const json& r = outcome->response;
  EXPECT_EQ(r["id"], "resp_abc");
  EXPECT_EQ(r["object"], "response");
  EXPECT_EQ(r["status"], "completed");
  EXPECT_EQ(r["model"], "qwen");
  EXPECT_EQ(r["metadata"], json({{"k", "v"}}));
  ASSERT_EQ(r["output"].size(), 1u);
  EXPECT_EQ(r["output"][0], json({{"id", "msg_abc_0"},
                                  {"type", "message"},
                                  {"status", "completed"},
                                  {"role", "assistant"},
                                  {"content", json::array({{{"type", "output_text"},
                                                            {"text", "Hello!"},
                                                            {"annotations", json::array()}}})}}));
  EXPECT_EQ(r["usage"]["input_tokens"], 20);
  EXPECT_EQ(r["usage"]["output_tokens"], 5);
  EXPECT_EQ(r["usage"]["total_tokens"], 25);
  EXPECT_EQ(r["usage"]["input_tokens_details"]["cached_tokens"], 4);
  EXPECT_EQ(outcome->messages, json::array({{{"role", "assistant"}, {"content", "Hello!"}}}));
}

TEST(ResponsesTranslate, ChatToolCallsBecomeFunctionCallItems) {
  auto req = parse_ok({{"input", "weather?"}});
  json message = {
      {"role", "assistant"},
      {"content", nullptr},
      {"reasoning_content", "The user wants weather."},
      {"tool_calls",
       json::array(
           {{{"id", "call_9"},
             {"type", "function"},
             {"function", {{"name", "get_weather"}, {"arguments", "{\"city\":\"Oslo\"}"}}}}})}};
  auto outcome = response_from_chat_completion(response_skeleton(req, "resp_q", 1, ""),
                                               canned_completion(message, "tool_calls"), "q");
  ASSERT_TRUE(outcome) << outcome.error().message;
  const json& output = outcome->response["output"];
  ASSERT_EQ(output.size(), 2u);
  EXPECT_EQ(output[0]["type"], "reasoning");
  EXPECT_EQ(output[0]["content"][0]["text"], "The user wants weather.");
  EXPECT_EQ(output[1], json({{"id", "fc_q_1"},
                             {"type", "function_call"},
                             {"status", "completed"},
                             {"call_id", "call_9"},
                             {"name", "get_weather"},
                             {"arguments", "{\"city\":\"Oslo\"}"}}));
  EXPECT_EQ(outcome->response["status"], "completed");
  // The stored history replays the call, so a function_call_output can follow it.
  ASSERT_EQ(outcome->messages.size(), 1u);
  EXPECT_EQ(outcome->messages[0]["tool_calls"][0]["id"], "call_9");
}

TEST(ResponsesTranslate, LengthFinishIsIncomplete) {
  auto req = parse_ok({{"input", "hi"}, {"max_output_tokens", 5}});
  auto outcome = response_from_chat_completion(
      response_skeleton(req, "resp_l", 1, ""),
      canned_completion({{"role", "assistant"}, {"content", "Once upon"}}, "length"), "l");
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->response["status"], "incomplete");
  EXPECT_EQ(outcome->response["incomplete_details"]["reason"], "max_output_tokens");
  EXPECT_EQ(outcome->response["max_output_tokens"], 5);
  EXPECT_FALSE(response_from_chat_completion(response_skeleton(req, "resp_l", 1, ""),
                                             {{"choices", json::array()}}, "l"));
}

json chunk(json delta, json finish = nullptr) {
  return {
      {"id", "chatcmpl-1"},
      {"object", "chat.completion.chunk"},
      {"model", "qwen"},
      {"choices",
       json::array(
           {{{"index", 0}, {"delta", std::move(delta)}, {"finish_reason", std::move(finish)}}})},
      {"usage", nullptr}};
}

json usage_chunk() {
  return {{"object", "chat.completion.chunk"},
          {"choices", json::array()},
          {"usage", {{"prompt_tokens", 10}, {"completion_tokens", 2}, {"total_tokens", 12}}}};
}

TEST(ResponsesStream, TextChunksBecomeTheDocumentedEventSequence) {
  auto req = parse_ok({{"input", "hi"}, {"stream", true}});
  ResponsesStreamTranslator t(response_skeleton(req, "resp_s", 1, ""), "s");
  std::string sse;
  sse += t.on_chunk(chunk({{"role", "assistant"}, {"content", ""}}));
  sse += t.on_chunk(chunk({{"content", "Hel"}}));
  sse += t.on_chunk(chunk({{"content", "lo"}}));
  sse += t.on_chunk(chunk(json::object(), "stop"));
  sse += t.on_chunk(usage_chunk());
  sse += t.finish();
  auto events = parse_events(sse);
  EXPECT_EQ(types(events),
            (std::vector<std::string>{"response.created", "response.in_progress",
                                      "response.output_item.added", "response.content_part.added",
                                      "response.output_text.delta", "response.output_text.delta",
                                      "response.output_text.done", "response.content_part.done",
                                      "response.output_item.done", "response.completed"}));
  for (size_t i = 0; i < events.size(); ++i) EXPECT_EQ(events[i]["sequence_number"], i);
  EXPECT_EQ(events[0]["response"]["model"], "qwen");
  EXPECT_EQ(events[0]["response"]["status"], "in_progress");
  EXPECT_EQ(events[2]["item"]["id"], "msg_s_0");
  EXPECT_EQ(events[2]["output_index"], 0);
  EXPECT_EQ(events[4]["delta"], "Hel");
  EXPECT_EQ(events[4]["item_id"], "msg_s_0");
  EXPECT_EQ(events[4]["content_index"], 0);
  EXPECT_EQ(events[6]["text"], "Hello");
  EXPECT_EQ(events[8]["item"]["content"][0]["text"], "Hello");
  const json& done = events.back()["response"];
  EXPECT_EQ(done["status"], "completed");
  EXPECT_EQ(done["output"][0]["content"][0]["text"], "Hello");
  EXPECT_EQ(done["usage"]["input_tokens"], 10);
  EXPECT_EQ(done["usage"]["output_tokens"], 2);
  EXPECT_EQ(t.outcome().response, done);
  EXPECT_EQ(t.outcome().messages, json::array({{{"role", "assistant"}, {"content", "Hello"}}}));
}

TEST(ResponsesStream, ToolCallDeltasBecomeFunctionCallItems) {
  auto req = parse_ok({{"input", "hi"}, {"stream", true}});
  ResponsesStreamTranslator t(response_skeleton(req, "resp_t", 1, ""), "t");
  std::string sse = t.start("qwen");
  sse += t.on_chunk(chunk({{"role", "assistant"}, {"content", ""}}));
  sse += t.on_chunk(chunk({{"content", "Checking."}}));
  sse += t.on_chunk(
      chunk({{"tool_calls",
              json::array({{{"index", 0},
                            {"id", "call_a"},
                            {"type", "function"},
                            {"function", {{"name", "get_weather"}, {"arguments", ""}}}}})}}));
  sse += t.on_chunk(
      chunk({{"tool_calls",
              json::array({{{"index", 0}, {"function", {{"arguments", "{\"city\":"}}}}})}}));
  sse += t.on_chunk(chunk(
      {{"tool_calls", json::array({{{"index", 0}, {"function", {{"arguments", "\"Oslo\"}"}}}}})}}));
  sse += t.on_chunk(
      chunk({{"tool_calls",
              json::array({{{"index", 1},
                            {"id", "call_b"},
                            {"function", {{"name", "get_time"}, {"arguments", "{}"}}}}})}}));
  sse += t.on_chunk(chunk(json::object(), "tool_calls"));
  sse += t.finish();
  auto events = parse_events(sse);
  EXPECT_EQ(
      types(events),
      (std::vector<std::string>{
          "response.created", "response.in_progress", "response.output_item.added",
          "response.content_part.added", "response.output_text.delta", "response.output_text.done",
          "response.content_part.done", "response.output_item.done", "response.output_item.added",
          "response.function_call_arguments.delta", "response.function_call_arguments.delta",
          "response.function_call_arguments.done", "response.output_item.done",
          "response.output_item.added", "response.function_call_arguments.delta",
          "response.function_call_arguments.done", "response.output_item.done",
          "response.completed"}));
  EXPECT_EQ(events[8]["output_index"], 1);
  EXPECT_EQ(events[8]["item"]["type"], "function_call");
  EXPECT_EQ(events[8]["item"]["call_id"], "call_a");
  EXPECT_EQ(events[8]["item"]["name"], "get_weather");
  EXPECT_EQ(events[8]["item"]["arguments"], "");
  EXPECT_EQ(events[11]["arguments"], "{\"city\":\"Oslo\"}");
  EXPECT_EQ(events[13]["output_index"], 2);
  const json& output = events.back()["response"]["output"];
  ASSERT_EQ(output.size(), 3u);
  EXPECT_EQ(output[1]["arguments"], "{\"city\":\"Oslo\"}");
  EXPECT_EQ(output[1]["status"], "completed");
  EXPECT_EQ(output[2]["call_id"], "call_b");
  EXPECT_EQ(output[2]["arguments"], "{}");
  const json& messages = t.outcome().messages;
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["content"], "Checking.");
  EXPECT_EQ(messages[0]["tool_calls"].size(), 2u);
}

TEST(ResponsesStream, AnEmptyAnswerIsOneEmptyMessage) {
  auto req = parse_ok({{"input", "hi"}, {"stream", true}});
  ResponsesStreamTranslator t(response_skeleton(req, "resp_e", 1, ""), "e");
  std::string sse = t.on_chunk(chunk({{"role", "assistant"}, {"content", ""}}));
  sse += t.on_chunk(chunk(json::object(), "stop"));
  sse += t.finish();
  auto events = parse_events(sse);
  EXPECT_EQ(types(events),
            (std::vector<std::string>{"response.created", "response.in_progress",
                                      "response.output_item.added", "response.content_part.added",
                                      "response.output_text.done", "response.content_part.done",
                                      "response.output_item.done", "response.completed"}));
  EXPECT_EQ(events.back()["response"]["output"][0]["content"][0]["text"], "");
}

TEST(ResponsesStream, LengthIsIncompleteAndErrorsFail) {
  auto req = parse_ok({{"input", "hi"}, {"stream", true}});
  {
    ResponsesStreamTranslator t(response_skeleton(req, "resp_1", 1, ""), "1");
    std::string sse = t.on_chunk(chunk({{"content", "a"}}));
    sse += t.on_chunk(chunk(json::object(), "length"));
    sse += t.finish();
    auto events = parse_events(sse);
    EXPECT_EQ(events.back()["type"], "response.incomplete");
    EXPECT_EQ(events.back()["response"]["incomplete_details"]["reason"], "max_output_tokens");
  }
  {
    ResponsesStreamTranslator t(response_skeleton(req, "resp_2", 1, ""), "2");
    std::string sse = t.on_chunk(chunk({{"content", "a"}}));
    t.on_error({{"message", "the engine failed"}, {"code", "internal"}});
    sse += t.finish();
    auto events = parse_events(sse);
    EXPECT_EQ(events.back()["type"], "response.failed");
    EXPECT_EQ(events.back()["response"]["error"]["message"], "the engine failed");
    EXPECT_EQ(events.back()["response"]["status"], "failed");
    EXPECT_TRUE(t.finish().empty());  // once only
  }
  {
    // The chunks ended without a finish_reason (the generation was cut off).
    ResponsesStreamTranslator t(response_skeleton(req, "resp_3", 1, ""), "3");
    auto events = parse_events(t.on_chunk(chunk({{"content", "a"}})) + t.finish());
    EXPECT_EQ(events.back()["type"], "response.failed");
  }
}

}  // namespace
}  // namespace hearth::server

namespace hearth::server {
namespace {

TEST(ChatSseReader, SplitsEventsAcrossWritesAndRecognisesDoneAndErrors) {
  ChatSseReader reader;
  using Kind = ChatSseReader::Event::Kind;
  const std::string first = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n";
  // A piece that ends mid-event yields nothing until the rest arrives.
  EXPECT_TRUE(reader.feed(first.substr(0, 20)).empty());
  auto events = reader.feed(first.substr(20) + "data: {\"choices\":[]");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, Kind::kChunk);
  EXPECT_EQ(events[0].data["choices"][0]["delta"]["content"], "Hi");
  events = reader.feed(
      ",\"usage\":{\"prompt_tokens\":3}}\r\n\r\n: comment\n\ndata: not json\n\n"
      "data: {\"error\":{\"message\":\"boom\"}}\n\ndata: [DONE]\n\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].kind, Kind::kChunk);
  EXPECT_EQ(events[0].data["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(events[1].kind, Kind::kError);
  EXPECT_EQ(events[1].data["message"], "boom");
  EXPECT_EQ(events[2].kind, Kind::kDone);
}

}  // namespace
}  // namespace hearth::server
