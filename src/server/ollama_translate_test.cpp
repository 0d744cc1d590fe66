#include "server/ollama_translate.h"

#include <gtest/gtest.h>

#include "server/openai_request.h"

namespace hearth::server::ollama {
namespace {

ApiError chat_error(const std::string& body) {
  auto t = translate_chat(json::parse(body));
  EXPECT_FALSE(t) << body;
  return t ? ApiError{} : t.error();
}

ApiError generate_error(const std::string& body) {
  auto t = translate_generate(json::parse(body));
  EXPECT_FALSE(t) << body;
  return t ? ApiError{} : t.error();
}

TEST(OllamaTranslate, NameTagMapsToAliasesAndVariants) {
  EXPECT_EQ(name_candidates("qwen2.5:0.5b"),
            (std::vector<std::string>{"qwen2.5:0.5b", "qwen2.5-0.5b"}));
  EXPECT_EQ(name_candidates("qwen2.5-0.5b:q8_0"),
            (std::vector<std::string>{"qwen2.5-0.5b:q8_0", "qwen2.5-0.5b-q8_0"}));
  EXPECT_EQ(name_candidates("qwen2.5-0.5b:latest"),
            (std::vector<std::string>{"qwen2.5-0.5b", "qwen2.5-0.5b:latest"}));
  EXPECT_EQ(name_candidates("stories:LATEST"),
            (std::vector<std::string>{"stories", "stories:LATEST"}));
  EXPECT_EQ(name_candidates("stories"), (std::vector<std::string>{"stories"}));
  EXPECT_EQ(name_candidates("stories:"), (std::vector<std::string>{"stories", "stories:"}));
  EXPECT_EQ(name_candidates("hf://a/b/c.gguf"), (std::vector<std::string>{"hf://a/b/c.gguf"}));
  EXPECT_TRUE(name_candidates("").empty());
  EXPECT_EQ(variant_name("qwen2.5-0.5b", "q8_0"), "qwen2.5-0.5b:q8_0");
  EXPECT_EQ(served_name("stories"), "stories:latest");
  EXPECT_EQ(served_name("qwen:q8_0"), "qwen:q8_0");
}

TEST(OllamaTranslate, ChatBecomesAnOpenAiChatWithOptions) {
  auto t = translate_chat(json::parse(R"({
    "model": "qwen2.5:0.5b",
    "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    "options": {"temperature": 0.2, "top_k": 5, "top_p": 0.5, "seed": 42, "num_predict": 12,
                "num_ctx": 128, "stop": ["\n\n"], "num_thread": 4},
    "format": "json", "think": false, "keep_alive": "10m"})"));
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(t->model, "qwen2.5:0.5b");
  EXPECT_TRUE(t->stream);
  EXPECT_FALSE(t->load_only);
  EXPECT_FALSE(t->completion);
  EXPECT_EQ(t->num_ctx, 128);
  ASSERT_TRUE(t->keep_alive);
  EXPECT_EQ(t->keep_alive->seconds, 600);
  const json& o = t->openai;
  EXPECT_EQ(o["temperature"], 0.2);
  EXPECT_EQ(o["top_k"], 5);
  EXPECT_EQ(o["seed"], 42);
  EXPECT_EQ(o["max_tokens"], 12);
  EXPECT_EQ(o["stop"], json::array({"\n\n"}));
  EXPECT_EQ(o["response_format"]["type"], "json_object");
  EXPECT_EQ(o["chat_template_kwargs"]["enable_thinking"], false);
  EXPECT_FALSE(o.contains("num_thread"));
  // The OpenAI parser takes what the translation produced.
  auto chat = parse_chat_request(o);
  ASSERT_TRUE(chat) << chat.error().message;
  EXPECT_EQ(chat->max_tokens, 12);
  EXPECT_EQ(chat->sampling.top_k, 5);
  EXPECT_EQ(chat->sampling.seed, 42u);
  EXPECT_EQ(chat->response_format, ResponseFormat::kJsonObject);
  EXPECT_EQ(chat->messages.size(), 2u);
}

TEST(OllamaTranslate, DefaultsFollowOllamaAndStreamCanBeOff) {
  auto t = translate_chat(
      json::parse(R"({"model":"m","messages":[{"role":"user","content":"Hi"}],"stream":false})"));
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->stream);
  EXPECT_EQ(t->openai["temperature"], 0.8);
  EXPECT_EQ(t->openai["top_k"], 40);
  EXPECT_EQ(t->openai["top_p"], 0.9);
  EXPECT_FALSE(t->openai.contains("max_tokens"));
  EXPECT_FALSE(t->num_ctx);
  EXPECT_FALSE(t->keep_alive);
  // -1 and -2 are "no limit".
  auto unlimited = translate_chat(json::parse(
      R"({"model":"m","messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":-1}})"));
  ASSERT_TRUE(unlimited);
  EXPECT_FALSE(unlimited->openai.contains("max_tokens"));
}

TEST(OllamaTranslate, FormatSchemaToolsAndToolMessages) {
  auto t = translate_chat(json::parse(R"({
    "model": "m",
    "messages": [
      {"role": "user", "content": "Weather?"},
      {"role": "assistant", "content": "", "thinking": "look it up",
       "tool_calls": [{"function": {"name": "weather", "arguments": {"city": "Oslo"}}}]},
      {"role": "tool", "content": "3 C", "tool_name": "weather"}],
    "tools": [{"type": "function", "function": {"name": "weather", "parameters": {}}}],
    "format": {"type": "object", "properties": {"a": {"type": "string"}}},
    "think": "high"})"));
  ASSERT_TRUE(t) << t.error().message;
  const json& o = t->openai;
  EXPECT_EQ(o["response_format"]["type"], "json_schema");
  EXPECT_EQ(o["response_format"]["json_schema"]["schema"]["properties"]["a"]["type"], "string");
  EXPECT_EQ(o["tools"].size(), 1u);
  EXPECT_EQ(o["chat_template_kwargs"]["enable_thinking"], true);
  const json& assistant = o["messages"][1];
  EXPECT_EQ(assistant["reasoning_content"], "look it up");
  EXPECT_FALSE(assistant.contains("thinking"));
  EXPECT_EQ(assistant["tool_calls"][0]["type"], "function");
  EXPECT_EQ(assistant["tool_calls"][0]["function"]["arguments"]["city"], "Oslo");
  EXPECT_EQ(o["messages"][2]["name"], "weather");
  auto chat = parse_chat_request(o);
  ASSERT_TRUE(chat) << chat.error().message;
  EXPECT_EQ(chat->response_format, ResponseFormat::kJsonSchema);
}

TEST(OllamaTranslate, WrongTypesNameTheField) {
  const std::string m = R"("model":"m","messages":[{"role":"user","content":"Hi"}])";
  EXPECT_EQ(chat_error("{" + m + R"(,"options":{"temperature":"hot"}})").param,
            "options.temperature");
  EXPECT_EQ(chat_error("{" + m + R"(,"options":{"num_ctx":1.5}})").param, "options.num_ctx");
  EXPECT_EQ(chat_error("{" + m + R"(,"options":{"num_ctx":0}})").param, "options.num_ctx");
  EXPECT_EQ(chat_error("{" + m + R"(,"options":{"num_predict":0}})").param, "options.num_predict");
  EXPECT_EQ(chat_error("{" + m + R"(,"options":{"top_k":"5"}})").param, "options.top_k");
  EXPECT_EQ(chat_error("{" + m + R"(,"options":{"stop":[1]}})").param, "options.stop");
  EXPECT_EQ(chat_error("{" + m + R"(,"options":[]})").param, "options");
  EXPECT_EQ(chat_error("{" + m + R"(,"stream":"yes"})").param, "stream");
  EXPECT_EQ(chat_error("{" + m + R"(,"format":"yaml"})").param, "format");
  EXPECT_EQ(chat_error("{" + m + R"(,"format":3})").param, "format");
  EXPECT_EQ(chat_error("{" + m + R"(,"think":"maybe"})").param, "think");
  EXPECT_EQ(chat_error("{" + m + R"(,"keep_alive":"soon"})").param, "keep_alive");
  EXPECT_EQ(chat_error("{" + m + R"(,"tools":{}})").param, "tools");
  EXPECT_EQ(chat_error(R"({"model":5})").param, "model");
  EXPECT_EQ(chat_error(R"({"messages":{}})").param, "messages");
  EXPECT_EQ(chat_error(R"({"messages":[3]})").param, "messages[0]");
  EXPECT_EQ(chat_error(R"({"messages":[{"role":"user","content":"x","images":["aGk="]}]})").param,
            "messages[0].images");
  const ApiError e = chat_error("{" + m + R"(,"options":{"seed":"x"}})");
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(e.message.find("options.seed"), std::string::npos) << e.message;
  EXPECT_EQ(translate_chat(json::array()).error().status, 400);
}

TEST(OllamaTranslate, NoMessagesOrNoPromptOnlyLoads) {
  auto chat = translate_chat(json::parse(R"({"model":"m","keep_alive":0})"));
  ASSERT_TRUE(chat);
  EXPECT_TRUE(chat->load_only);
  ASSERT_TRUE(chat->keep_alive);
  EXPECT_EQ(chat->keep_alive->seconds, 0);
  auto gen = translate_generate(json::parse(R"({"model":"m"})"));
  ASSERT_TRUE(gen);
  EXPECT_TRUE(gen->load_only);
}

TEST(OllamaTranslate, GenerateUsesTheChatTemplateUnlessRaw) {
  auto t = translate_generate(
      json::parse(R"({"model":"m","prompt":"Why?","system":"Answer in French.","stream":false})"));
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->completion);
  EXPECT_FALSE(t->stream);
  EXPECT_EQ(t->openai["messages"], json::parse(R"([{"role":"system","content":"Answer in French."},
                            {"role":"user","content":"Why?"}])"));
  auto raw = translate_generate(json::parse(R"({"model":"m","prompt":"Once upon","raw":true})"));
  ASSERT_TRUE(raw);
  EXPECT_TRUE(raw->completion);
  EXPECT_EQ(raw->openai["prompt"], "Once upon");
  ASSERT_TRUE(parse_completion_request(raw->openai));
}

TEST(OllamaTranslate, GenerateTemplateSubstitutesSystemAndPrompt) {
  auto t = translate_generate(json::parse(R"({"model":"m","prompt":"Hi","system":"S",
      "template":"<s>{{ .System }}|{{- .Prompt -}}>{{ .Response }}ignored"})"));
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_TRUE(t->completion);
  EXPECT_EQ(t->openai["prompt"], "<s>S|Hi>");
  EXPECT_EQ(generate_error(R"({"prompt":"Hi","template":"{{ if .System }}x{{ end }}"})").param,
            "template");
  EXPECT_EQ(generate_error(R"({"prompt":"Hi","template":"{{ .Prompt "})").param, "template");
  EXPECT_EQ(generate_error(R"({"prompt":3})").param, "prompt");
  EXPECT_EQ(generate_error(R"({"prompt":"x","raw":"yes"})").param, "raw");
  EXPECT_EQ(generate_error(R"({"prompt":"x","suffix":"y"})").param, "suffix");
  EXPECT_EQ(generate_error(R"({"prompt":"x","images":["aGk="]})").param, "images");
}

TEST(OllamaTranslate, KeepAliveDurations) {
  auto ka = [](const std::string& v) {
    auto r = parse_keep_alive(json{{"keep_alive", json::parse(v)}});
    EXPECT_TRUE(r) << v;
    return r && *r ? (*r)->seconds : -999;
  };
  EXPECT_EQ(ka("\"5m\""), 300);
  EXPECT_EQ(ka("\"1h30m\""), 5400);
  EXPECT_EQ(ka("\"10s\""), 10);
  EXPECT_EQ(ka("\"300ms\""), 1);
  EXPECT_EQ(ka("\"0\""), 0);
  EXPECT_EQ(ka("0"), 0);
  EXPECT_EQ(ka("120"), 120);
  EXPECT_EQ(ka("-1"), KeepAlive::kForever);
  EXPECT_EQ(ka("\"-1m\""), KeepAlive::kForever);
  for (const char* bad : {"\"\"", "\"5x\"", "\"m\"", "true", "[]", "\"5 m\""}) {
    auto r = parse_keep_alive(json{{"keep_alive", json::parse(bad)}});
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().param, "keep_alive");
    }
  }
  auto absent = parse_keep_alive(json::object());
  ASSERT_TRUE(absent);
  EXPECT_FALSE(*absent);
}

TEST(OllamaTranslate, EmbedBodies) {
  auto t = translate_embed(json::parse(R"({"model":"e","input":["a","b"]})"), false);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->openai["input"], json::array({"a", "b"}));
  ASSERT_TRUE(parse_embedding_request(t->openai));
  auto legacy = translate_embed(json::parse(R"({"model":"e","prompt":"a"})"), true);
  ASSERT_TRUE(legacy);
  EXPECT_TRUE(legacy->legacy);
  EXPECT_EQ(legacy->openai["input"], "a");
  EXPECT_EQ(translate_embed(json::parse(R"({"input":[1]})"), false).error().param, "input");
  EXPECT_EQ(translate_embed(json::parse(R"({"input":[]})"), false).error().param, "input");
  EXPECT_EQ(translate_embed(json::parse(R"({})"), false).error().param, "input");
  EXPECT_EQ(translate_embed(json::parse(R"({"prompt":["a"]})"), true).error().param, "prompt");
  EXPECT_EQ(translate_embed(json::parse(R"({"input":"a","truncate":1})"), false).error().param,
            "truncate");
}

TEST(OllamaTranslate, ModelField) {
  EXPECT_EQ(model_field(json::parse(R"({"model":"a:b"})")).value(), "a:b");
  EXPECT_EQ(model_field(json::parse(R"({"name":"a"})")).value(), "a");
  EXPECT_EQ(model_field(json::parse(R"({"model":""})")).error().param, "model");
  EXPECT_EQ(model_field(json::parse(R"({"model":1})")).error().param, "model");
  EXPECT_EQ(model_field(json::parse(R"({})")).error().status, 400);
}

TEST(OllamaTranslate, AnswersCarryMessagesThinkingAndToolCalls) {
  const json message = ollama_message(json::parse(R"({
    "content": "ok", "reasoning_content": "hmm",
    "tool_calls": [{"id": "call_1", "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]})"));
  EXPECT_EQ(message["role"], "assistant");
  EXPECT_EQ(message["content"], "ok");
  EXPECT_EQ(message["thinking"], "hmm");
  EXPECT_EQ(message["tool_calls"][0]["function"]["name"], "weather");
  EXPECT_EQ(message["tool_calls"][0]["function"]["arguments"]["city"], "Oslo");
  const json plain = ollama_message(json::parse(R"({"content": "hi"})"));
  EXPECT_FALSE(plain.contains("thinking"));
  EXPECT_FALSE(plain.contains("tool_calls"));

  const json chunk = chat_chunk("m:latest", "2026-01-01T00:00:00.000000000Z", plain);
  EXPECT_EQ(chunk["model"], "m:latest");
  EXPECT_EQ(chunk["message"]["content"], "hi");
  EXPECT_EQ(chunk["done"], false);
  const json gen = generate_chunk("m", "t", message);
  EXPECT_EQ(gen["response"], "ok");
  EXPECT_EQ(gen["thinking"], "hmm");
  EXPECT_EQ(gen["done"], false);
}

TEST(OllamaTranslate, FinalChunkHasDurationsInNanoseconds) {
  StreamEvent done;
  done.kind = StreamEvent::Kind::kDone;
  done.finish = FinishReason::kLength;
  done.prompt_tokens = 26;
  done.completion_tokens = 7;
  Timings timings{.total_ns = 5'000'000'000,
                  .load_ns = 1'000'000,
                  .prompt_eval_ns = 2'500,
                  .eval_ns = 3'000'000'000};
  json chunk = chat_chunk("m", "t", json::object());
  add_final_fields(chunk, done, timings);
  EXPECT_EQ(chunk["done"], true);
  EXPECT_EQ(chunk["done_reason"], "length");
  EXPECT_EQ(chunk["total_duration"], 5'000'000'000LL);
  EXPECT_EQ(chunk["load_duration"], 1'000'000);
  EXPECT_EQ(chunk["prompt_eval_count"], 26);
  EXPECT_EQ(chunk["prompt_eval_duration"], 2'500);
  EXPECT_EQ(chunk["eval_count"], 7);
  EXPECT_EQ(chunk["eval_duration"], 3'000'000'000LL);
  done.finish = FinishReason::kStop;
  add_final_fields(chunk, done, timings);
  EXPECT_EQ(chunk["done_reason"], "stop");
}

TEST(OllamaTranslate, TimestampsAndErrors) {
  const auto t = std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)) +
                 std::chrono::nanoseconds(123456789);
  EXPECT_EQ(rfc3339(t), "2026-01-01T00:00:00.123456789Z");
  EXPECT_EQ(error_body(invalid_request("bad", "x")), json({{"error", "bad"}}));
}

}  // namespace
}  // namespace hearth::server::ollama
