#include "server/openai_request.h"

#include <gtest/gtest.h>

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

ApiError chat_error(const std::string& body) {
  auto parsed = parse_json_body(body);
  if (!parsed) return parsed.error();
  auto req = parse_chat_request(*parsed);
  EXPECT_FALSE(req) << body;
  return req ? ApiError{} : req.error();
}

TEST(OpenAiRequest, ParsesAFullChatRequest) {
  auto body = json::parse(R"({
    "model": "qwen", "stream": true, "stream_options": {"include_usage": true},
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": [{"type": "text", "text": "Hi "}, {"type": "text", "text": "there"}]},
                 {"role": "assistant", "content": null}],
    "max_completion_tokens": 32, "temperature": 0.2, "top_p": 0.9, "seed": 7,
    "stop": ["\n\n", "END"], "presence_penalty": 0.5, "frequency_penalty": -0.5,
    "logit_bias": {"42": -100, "7": 3.5}, "response_format": {"type": "json_object"},
    "n": 1, "user": "ignored", "some_future_field": {"x": 1}
  })");
  auto req = parse_chat_request(body);
  ASSERT_TRUE(req) << req.error().message;
  EXPECT_EQ(req->model, "qwen");
  EXPECT_TRUE(req->stream);
  EXPECT_TRUE(req->include_usage);
  EXPECT_EQ(req->max_tokens, 32);
  EXPECT_FLOAT_EQ(req->sampling.temperature, 0.2f);
  EXPECT_FLOAT_EQ(req->sampling.top_p, 0.9f);
  EXPECT_EQ(req->sampling.seed, 7u);
  EXPECT_EQ(req->stop, (std::vector<std::string>{"\n\n", "END"}));
  EXPECT_FLOAT_EQ(req->sampling.logit_bias.at(42), -100.0f);
  EXPECT_EQ(req->response_format, ResponseFormat::kJsonObject);
  EXPECT_EQ(req->messages[1]["content"], "Hi there");
  EXPECT_EQ(req->messages[2]["content"], "");
  EXPECT_TRUE(req->tools.is_null());
}

TEST(OpenAiRequest, DefaultsFollowOpenAi) {
  auto req = parse_chat_request(json::parse(R"({"messages":[{"role":"user","content":"x"}]})"));
  ASSERT_TRUE(req);
  EXPECT_FLOAT_EQ(req->sampling.temperature, 1.0f);
  EXPECT_FLOAT_EQ(req->sampling.top_p, 1.0f);
  EXPECT_FALSE(req->max_tokens.has_value());
  EXPECT_FALSE(req->stream);
}

TEST(OpenAiRequest, BadInputNamesTheParameter) {
  EXPECT_EQ(chat_error("{not json").code, "invalid_json");
  EXPECT_EQ(chat_error("[1,2]").status, 400);
  EXPECT_EQ(chat_error("{}").param, "messages");
  EXPECT_EQ(chat_error(R"({"messages": "hi"})").param, "messages");
  EXPECT_EQ(chat_error(R"({"messages": []})").param, "messages");
  EXPECT_EQ(chat_error(R"({"messages": [{"content": "x"}]})").param, "messages[0].role");
  EXPECT_EQ(chat_error(R"({"messages": [{"role": "wizard", "content": "x"}]})").param,
            "messages[0].role");
  const std::string m = R"("messages": [{"role": "user", "content": "x"}])";
  EXPECT_EQ(chat_error("{" + m + R"(, "max_tokens": -5})").param, "max_tokens");
  EXPECT_EQ(chat_error("{" + m + R"(, "max_tokens": 0})").param, "max_tokens");
  EXPECT_EQ(chat_error("{" + m + R"(, "max_tokens": 99999999999999999999})").param, "max_tokens");
  EXPECT_EQ(chat_error("{" + m + R"(, "max_tokens": "10"})").param, "max_tokens");
  EXPECT_EQ(chat_error("{" + m + R"(, "temperature": 3})").param, "temperature");
  EXPECT_EQ(chat_error("{" + m + R"(, "temperature": "hot"})").param, "temperature");
  EXPECT_EQ(chat_error("{" + m + R"(, "top_p": 0})").param, "top_p");
  EXPECT_EQ(chat_error("{" + m + R"(, "n": 3})").param, "n");
  EXPECT_EQ(chat_error("{" + m + R"(, "stop": 5})").param, "stop");
  EXPECT_EQ(chat_error("{" + m + R"(, "stream": "yes"})").param, "stream");
  EXPECT_EQ(chat_error("{" + m + R"(, "logit_bias": {"abc": 1}})").param, "logit_bias");
  EXPECT_EQ(chat_error("{" + m + R"(, "logit_bias": {"5": 1000}})").param, "logit_bias");
  EXPECT_EQ(chat_error("{" + m + R"(, "response_format": {"type": "xml"}})").param,
            "response_format.type");
  EXPECT_EQ(chat_error("{" + m + R"(, "model": 42})").param, "model");
  EXPECT_EQ(chat_error("{" + m + R"(, "chat_template_kwargs": true})").param,
            "chat_template_kwargs");
}

TEST(OpenAiRequest, ChatTemplateKwargsPassThrough) {
  auto req = parse_chat_request(json::parse(R"({
    "messages": [{"role": "user", "content": "hi"}],
    "chat_template_kwargs": {"enable_thinking": false}})"));
  ASSERT_TRUE(req) << req.error().message;
  EXPECT_EQ(req->chat_template_kwargs, json({{"enable_thinking", false}}));
  auto plain =
      parse_chat_request(json::parse(R"({"messages": [{"role": "user", "content": "hi"}]})"));
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_TRUE(plain->chat_template_kwargs.is_null());
}

TEST(OpenAiRequest, AcceptsIntegralFloatsForIntegers) {
  auto req = parse_chat_request(
      json::parse(R"({"messages":[{"role":"user","content":"x"}], "max_tokens": 16.0})"));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->max_tokens, 16);
  auto bad = parse_chat_request(
      json::parse(R"({"messages":[{"role":"user","content":"x"}], "max_tokens": 16.5})"));
  EXPECT_FALSE(bad);
}

TEST(OpenAiRequest, CompletionPrompts) {
  auto text = parse_completion_request(json::parse(R"({"prompt": "Once"})"));
  ASSERT_TRUE(text);
  EXPECT_EQ(text->prompt, "Once");
  auto ids = parse_completion_request(json::parse(R"({"prompt": [1, 2, 3]})"));
  ASSERT_TRUE(ids);
  EXPECT_EQ(ids->prompt_tokens, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_FALSE(parse_completion_request(json::parse(R"({"prompt": [1, -2]})")));
  EXPECT_FALSE(parse_completion_request(json::parse(R"({"prompt": ""})")));
  EXPECT_FALSE(parse_completion_request(json::parse(R"({})")));
}

TEST(OpenAiRequest, EmbeddingInputs) {
  auto one = parse_embedding_request(json::parse(R"({"input": "hello"})"));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->inputs.size(), 1u);
  auto many = parse_embedding_request(json::parse(R"({"input": ["a", "b"]})"));
  ASSERT_TRUE(many);
  EXPECT_EQ(many->inputs.size(), 2u);
  EXPECT_FALSE(parse_embedding_request(json::parse(R"({"input": [1]})")));
  EXPECT_FALSE(parse_embedding_request(json::parse(R"({"input": []})")));
}

TEST(ApiError, HasOpenAiShape) {
  auto e = model_not_found("nope").to_json();
  EXPECT_EQ(e["error"]["code"], "model_not_found");
  EXPECT_EQ(e["error"]["param"], "model");
  EXPECT_EQ(e["error"]["type"], "invalid_request_error");
  EXPECT_TRUE(e["error"]["message"].is_string());
  auto busy = server_busy(2);
  EXPECT_EQ(busy.status, 503);
  EXPECT_TRUE(busy.to_json()["error"]["param"].is_null());
}

}  // namespace
}  // namespace hearth::server
