// CallConstraint::sample on a real vocabulary (Qwen2.5's, from the fixture): what it draws
// outside and inside a call, on hand-made and random logits. The text-level rules per chat
// family are tested in server/tool_constraint_test.cpp.
#include "engine/sampler/call_constraint.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>

#include "engine/gguf/gguf.h"
#include "engine/sampler/json_schema.h"
#include "engine/sampler/sampler.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

using json = nlohmann::ordered_json;

class CallConstraintSampling : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto file = gguf::File::open(testing::fixtures_dir() / "models" / "tiny-qwen2-q8_0.gguf");
    if (!file) return;
    auto tokenizer = Tokenizer::from_gguf(*file);
    ASSERT_TRUE(tokenizer) << tokenizer.error().message;
    tokenizer_ = std::make_unique<Tokenizer>(std::move(*tokenizer));
  }
  static void TearDownTestSuite() { tokenizer_.reset(); }
  void SetUp() override {
    if (!tokenizer_) GTEST_SKIP() << "fixtures not found";
  }

  // `note` adds a tool with a free string argument.
  static std::shared_ptr<const CallConstraintSpec> spec(int max_calls = 1 << 20,
                                                        bool note = false) {
    json call = json::parse(R"({"oneOf": [
      {"type": "object", "required": ["name", "arguments"], "properties": {
        "name": {"const": "get_weather"},
        "arguments": {"type": "object", "required": ["city"],
                      "properties": {"city": {"enum": ["Paris", "Oslo"]}}}}},
      {"type": "object", "required": ["name", "arguments"], "properties": {
        "name": {"const": "set_alarm"},
        "arguments": {"type": "object", "required": ["on"],
                      "properties": {"on": {"type": "boolean"}}}}}]})");
    if (note) {
      call["oneOf"].push_back(json::parse(R"(
        {"type": "object", "required": ["name", "arguments"], "properties": {
          "name": {"const": "note"},
          "arguments": {"type": "object", "required": ["text"],
                        "properties": {"text": {"type": "string"}}}}})"));
    }
    auto compiled = JsonSchema::compile(call);
    EXPECT_TRUE(compiled);
    auto s = std::make_shared<CallConstraintSpec>();
    s->triggers = {{"<tool_call>", "</tool_call>", false}};
    s->call_schema = *compiled;
    s->json.max_whitespace_run = 9;
    s->json.max_newlines = 1;
    s->max_calls = max_calls;
    return s;
  }

  // Logits that make `id` the clear favourite.
  static std::vector<float> favour(int32_t id) {
    std::vector<float> logits(static_cast<size_t>(tokenizer_->n_vocab()), 0.0f);
    logits[static_cast<size_t>(id)] = 50.0f;
    return logits;
  }

  static int32_t token(std::string_view text) {
    const auto ids = tokenizer_->encode(text, /*add_special=*/false, /*parse_special=*/true);
    EXPECT_EQ(ids.size(), 1u) << text;
    return ids.empty() ? -1 : ids.front();
  }

  static inline std::unique_ptr<Tokenizer> tokenizer_;
};

TEST_F(CallConstraintSampling, OutsideACallTheModelsChoiceStands) {
  CallConstraint c(spec());
  Sampler greedy({.temperature = 0});
  const int32_t hello = token("Hello");
  EXPECT_EQ(c.sample(greedy, favour(hello), *tokenizer_), hello);
  EXPECT_EQ(c.sample(greedy, favour(tokenizer_->eos_id()), *tokenizer_), tokenizer_->eos_id());
}

TEST_F(CallConstraintSampling, InsideACallNoEndAndNoSpecialTokens) {
  CallConstraint c(spec());
  Sampler greedy({.temperature = 0});
  const int32_t open = token("<tool_call>");
  ASSERT_EQ(c.sample(greedy, favour(open), *tokenizer_), open);
  ASSERT_TRUE(c.in_call());
  // The end of generation, and the marker token itself, are refused inside the JSON.
  for (int32_t favourite : {tokenizer_->eos_id(), open, token("<|im_end|>")}) {
    CallConstraint copy = c;
    const int32_t id = copy.sample(greedy, favour(favourite), *tokenizer_);
    EXPECT_NE(id, favourite);
    EXPECT_FALSE(tokenizer_->is_end_of_generation(id));
    EXPECT_TRUE(copy.in_call());
  }
  // Inside a free string, where any text is valid JSON, the markers are still refused.
  CallConstraint note(spec(1 << 20, /*note=*/true));
  note.commit(R"(<tool_call>{"name": "note", "arguments": {"text": ")");
  ASSERT_TRUE(note.in_call());
  for (int32_t favourite : {open, token("<|im_end|>"), token("<|im_start|>")}) {
    CallConstraint copy = note;
    const int32_t id = copy.sample(greedy, favour(favourite), *tokenizer_);
    EXPECT_NE(id, favourite) << tokenizer_->token_to_piece(favourite);
  }
  const int32_t word = token("hello");
  EXPECT_EQ(note.sample(greedy, favour(word), *tokenizer_), word);
}

// Random logits (a model with no idea of JSON), greedy and sampled: whatever is drawn, the
// call completes into valid JSON naming a tool with its arguments, and the closing tag follows.
TEST_F(CallConstraintSampling, RandomLogitsStillCompleteAValidCall) {
  std::mt19937 rng(11);
  std::normal_distribution<float> noise(0.0f, 3.0f);
  std::vector<float> logits(static_cast<size_t>(tokenizer_->n_vocab()));
  for (float temperature : {0.0f, 1.0f}) {
    for (int run = 0; run < 2; ++run) {
      CallConstraint c(spec(/*max_calls=*/1));
      Sampler sampler({.temperature = temperature, .seed = static_cast<uint64_t>(run)});
      std::string text = "<tool_call>";
      c.commit(text);
      for (int step = 0; step < 300 && !c.finished(); ++step) {
        for (float& l : logits) l = noise(rng);
        const int32_t id = c.sample(sampler, logits, *tokenizer_);
        ASSERT_GE(id, 0);
        ASSERT_FALSE(tokenizer_->is_end_of_generation(id)) << text;
        text += tokenizer_->token_to_piece(id);
      }
      ASSERT_TRUE(c.finished()) << text;
      ASSERT_TRUE(text.ends_with("</tool_call>")) << text;
      const std::string body =
          text.substr(11, text.size() - 11 - std::string_view("</tool_call>").size());
      const json call = json::parse(body, nullptr, /*allow_exceptions=*/false);
      ASSERT_FALSE(call.is_discarded()) << body;
      const json& args = call["arguments"];
      if (call["name"] == "get_weather") {
        EXPECT_TRUE(args == json({{"city", "Paris"}}) || args == json({{"city", "Oslo"}})) << body;
      } else {
        EXPECT_EQ(call["name"], "set_alarm") << body;
        EXPECT_TRUE(args.size() == 1 && args["on"].is_boolean()) << body;
      }
    }
  }
}

}  // namespace
}  // namespace hearth
