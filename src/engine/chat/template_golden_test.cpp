// Renders every fixture chat template for every conversation in expected.json and requires the
// exact bytes Jinja2 produced (or a failure where Jinja2 failed).
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <string>

#include "engine/chat/template.h"
#include "support/fixtures.h"

namespace hearth::chat {
namespace {

std::tm fixed_date() {
  std::tm tm{};
  tm.tm_year = 2026 - 1900;
  tm.tm_mon = 0;
  tm.tm_mday = 2;
  tm.tm_hour = 12;
  return tm;
}

nlohmann::ordered_json load_expected() {
  auto path = testing::fixtures_dir() / "templates" / "expected.json";
  std::ifstream in(path);
  if (!in) return nullptr;
  return nlohmann::ordered_json::parse(in);
}

// One expected.json conversation as a request, with the template entry's special tokens.
ChatRequest golden_request(const nlohmann::ordered_json& conv,
                           const nlohmann::ordered_json& entry) {
  ChatRequest request;
  request.messages = conv["messages"];
  if (conv.contains("tools")) request.tools = conv["tools"];
  request.add_generation_prompt = conv["add_generation_prompt"];
  request.bos_token = entry["bos_token"];
  request.eos_token = entry["eos_token"];
  return request;
}

TEST(ChatTemplateGolden, MatchesJinja2OnAllFixtures) {
  nlohmann::ordered_json expected = load_expected();
  if (expected.is_null()) GTEST_SKIP() << "fixtures not found under " << testing::fixtures_dir();
  std::map<std::string, nlohmann::ordered_json> conversations;
  for (const auto& c : expected["conversations"]) conversations[c["name"]] = c;

  int total = 0, passed = 0;
  for (const auto& entry : expected["templates"]) {
    std::string file = entry["template"];
    std::string source = testing::read_file(testing::fixtures_dir() / "templates" / file);
    TemplateOptions options;
    options.clock = fixed_date;
    auto tmpl = ChatTemplate::parse(source, options);
    ASSERT_TRUE(tmpl.has_value()) << file << ": " << tmpl.error().message;
    for (const auto& c : entry["cases"]) {
      ++total;
      std::string name = c["case"];
      const auto& conv = conversations.at(name);
      ChatRequest request = golden_request(conv, entry);
      auto result = apply_chat_template(*tmpl, request);
      if (c.contains("error")) {
        std::string want = c["error"];
        EXPECT_FALSE(result.has_value()) << file << " / " << name << " should fail with: " << want;
        if (!result) {
          EXPECT_NE(result.error().message.find(want), std::string::npos)
              << file << " / " << name << ": got error '" << result.error().message
              << "', Jinja2 said '" << want << "'";
          if (result.error().message.find(want) != std::string::npos) ++passed;
        }
      } else {
        std::string want = c["expected"];
        EXPECT_TRUE(result.has_value()) << file << " / " << name << ": " << result.error().message;
        if (!result) continue;
        EXPECT_EQ(*result, want) << file << " / " << name;
        if (*result == want) ++passed;
      }
    }
  }
  std::cout << "[ golden  ] " << passed << " of " << total << " expected.json cases match\n";
  EXPECT_EQ(passed, total);
}

// Qwen3's thinking switch: the template reads `enable_thinking`, which requests pass as
// chat_template_kwargs. false makes the template write an empty think block after the
// generation prompt; true renders as Jinja2 did without the variable (expected.json).
TEST(ChatTemplateGolden, Qwen3EnableThinkingKwarg) {
  nlohmann::ordered_json expected = load_expected();
  if (expected.is_null()) GTEST_SKIP() << "fixtures not found under " << testing::fixtures_dir();
  std::map<std::string, nlohmann::ordered_json> conversations;
  for (const auto& c : expected["conversations"]) conversations[c["name"]] = c;
  const std::string file = "qwen3-tokenizer_config.jinja";
  auto tmpl = ChatTemplate::parse(testing::read_file(testing::fixtures_dir() / "templates" / file));
  ASSERT_TRUE(tmpl.has_value()) << tmpl.error().message;
  int checked = 0;
  for (const auto& entry : expected["templates"]) {
    if (entry["template"] != file) continue;
    for (const auto& c : entry["cases"]) {
      if (!c.contains("expected")) continue;
      const auto& conv = conversations.at(c["case"].get<std::string>());
      ChatRequest request = golden_request(conv, entry);
      const std::string plain = c["expected"];
      const std::string suffix = request.add_generation_prompt ? "<think>\n\n</think>\n\n" : "";
      request.template_kwargs = {{"enable_thinking", false}};
      auto off = apply_chat_template(*tmpl, request);
      ASSERT_TRUE(off.has_value()) << off.error().message;
      EXPECT_EQ(*off, plain + suffix) << c["case"];
      request.template_kwargs = {{"enable_thinking", true}};
      auto on = apply_chat_template(*tmpl, request);
      ASSERT_TRUE(on.has_value()) << on.error().message;
      EXPECT_EQ(*on, plain) << c["case"];
      // A kwarg cannot replace the request's own variables.
      request.template_kwargs = {{"messages", nlohmann::ordered_json::array()}};
      auto guarded = apply_chat_template(*tmpl, request);
      ASSERT_TRUE(guarded.has_value()) << guarded.error().message;
      EXPECT_EQ(*guarded, plain) << c["case"];
      ++checked;
    }
  }
  EXPECT_GT(checked, 0) << file << " has no cases in expected.json";
}

}  // namespace
}  // namespace hearth::chat
