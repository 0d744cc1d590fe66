// The tool-call parser per family, fed canned model outputs whole and in small pieces.
#include "server/tool_calls.h"

#include <gtest/gtest.h>

#include "support/fixtures.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

struct Call {
  std::string id, name, arguments;
};

// What a reply turned into, with the order of content events kept for streaming checks.
struct Reply {
  std::string content;
  std::string reasoning;
  std::vector<Call> calls;
  std::vector<ToolCallEvent> events;
};

void absorb(Reply& r, const std::vector<ToolCallEvent>& events) {
  for (const auto& e : events) {
    r.events.push_back(e);
    switch (e.kind) {
      case ToolCallEvent::Kind::kContent: r.content += e.text; break;
      case ToolCallEvent::Kind::kReasoning: r.reasoning += e.text; break;
      case ToolCallEvent::Kind::kCallStart:
        ASSERT_EQ(e.index, static_cast<int>(r.calls.size()));
        r.calls.push_back({e.id, e.name, ""});
        break;
      case ToolCallEvent::Kind::kArguments:
        ASSERT_LT(e.index, static_cast<int>(r.calls.size()));
        r.calls[static_cast<size_t>(e.index)].arguments += e.text;
        break;
    }
  }
}

// Feeds `output` in pieces of `piece` bytes (0: whole).
Reply parse(ToolCallParserOptions options, std::string_view output, size_t piece = 0) {
  ToolCallParser parser(std::move(options));
  Reply r;
  if (piece == 0) piece = output.size() + 1;
  for (size_t i = 0; i < output.size(); i += piece) absorb(r, parser.feed(output.substr(i, piece)));
  absorb(r, parser.finish());
  return r;
}

ToolCallParserOptions opts(ToolCallFormat format) {
  ToolCallParserOptions o;
  o.format = format;
  return o;
}

// The same reply whatever the pieces are: non-streaming == streaming.
void expect_piece_independent(const ToolCallParserOptions& o, std::string_view output) {
  const Reply whole = parse(o, output);
  for (size_t piece : {1u, 2u, 3u, 7u}) {
    const Reply split = parse(o, output, piece);
    EXPECT_EQ(split.content, whole.content) << "piece " << piece;
    EXPECT_EQ(split.reasoning, whole.reasoning) << "piece " << piece;
    ASSERT_EQ(split.calls.size(), whole.calls.size()) << "piece " << piece;
    for (size_t i = 0; i < whole.calls.size(); ++i) {
      EXPECT_EQ(split.calls[i].name, whole.calls[i].name);
      EXPECT_EQ(split.calls[i].arguments, whole.calls[i].arguments);
    }
  }
}

TEST(ToolCallParser, HermesThreeParallelCallsAfterContent) {
  const std::string out =
      "Let me check those.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
      "{\"city\": \"Oslo\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": "
      "\"get_time\", \"arguments\": {}}\n</tool_call>";
  const Reply r = parse(opts(ToolCallFormat::kHermes), out);
  EXPECT_EQ(r.content, "Let me check those.\n");
  ASSERT_EQ(r.calls.size(), 3u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.calls[1].arguments, R"({"city":"Oslo","unit":"celsius"})");
  EXPECT_EQ(r.calls[2].name, "get_time");
  EXPECT_EQ(r.calls[2].arguments, "{}");
  EXPECT_TRUE(r.calls[0].id.starts_with("call_"));
  EXPECT_EQ(r.calls[0].id.size(), 29u);
  EXPECT_NE(r.calls[0].id, r.calls[1].id);
  expect_piece_independent(opts(ToolCallFormat::kHermes), out);
}

TEST(ToolCallParser, ContentStreamsLiveAndAPartialTriggerIsHeldBack) {
  ToolCallParser parser(opts(ToolCallFormat::kHermes));
  auto events = parser.feed("Sure, one moment <tool_");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, ToolCallEvent::Kind::kContent);
  EXPECT_EQ(events[0].text, "Sure, one moment ");
  // Not a trigger after all: the held text is released.
  events = parser.feed("box> is a word");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text, "<tool_box> is a word");
  events = parser.feed(" <tool_call>{\"name\": \"f\", ");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].text, " ");
  events = parser.feed("\"arguments\": {\"a\": 1}}</tool_call>");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].kind, ToolCallEvent::Kind::kCallStart);
  EXPECT_EQ(events[0].name, "f");
  EXPECT_EQ(events[1].kind, ToolCallEvent::Kind::kArguments);
  EXPECT_EQ(events[1].text, R"({"a":1})");
  EXPECT_TRUE(parser.finish().empty());
  EXPECT_EQ(parser.calls(), 1);
}

TEST(ToolCallParser, MalformedCallsComeBackAsContent) {
  const std::string bad_json =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": }\n</tool_call>";
  Reply r = parse(opts(ToolCallFormat::kHermes), bad_json);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, bad_json);

  const std::string no_name = "<tool_call>{\"arguments\": {}}</tool_call> done";
  r = parse(opts(ToolCallFormat::kHermes), no_name, 3);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, no_name);

  // A call the request did not offer.
  ToolCallParserOptions o = opts(ToolCallFormat::kHermes);
  o.tool_names = {"get_weather"};
  const std::string unknown = "<tool_call>{\"name\": \"rm_rf\", \"arguments\": {}}</tool_call>";
  r = parse(o, unknown);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, unknown);

  // The reply ended inside a call that never closed and never completed.
  const std::string cut = "ok <tool_call>{\"name\": \"get_weather\", \"argu";
  r = parse(opts(ToolCallFormat::kHermes), cut, 4);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, cut);
}

TEST(ToolCallParser, HermesCallWithoutClosingTagAtTheEndStillCounts) {
  const Reply r = parse(opts(ToolCallFormat::kHermes),
                        "<tool_call>\n{\"name\": \"f\", \"arguments\": \"{\\\"x\\\": 2}\"}\n", 2);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, R"({"x":2})");  // arguments given as a JSON string
  EXPECT_EQ(r.content, "");
}

TEST(ToolCallParser, Llama3BareJsonAndPythonTag) {
  const std::string bare = "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}";
  Reply r = parse(opts(ToolCallFormat::kLlama3), bare);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.content, "");
  expect_piece_independent(opts(ToolCallFormat::kLlama3), bare);

  // Two calls separated by ';' as Llama 3.x sometimes writes them.
  r = parse(opts(ToolCallFormat::kLlama3),
            "{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"n\": 1}}",
            5);
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[1].name, "b");
  EXPECT_EQ(r.content, "");

  r = parse(opts(ToolCallFormat::kLlama3),
            "<|python_tag|>{\"name\": \"search\", \"parameters\": {\"q\": \"x\"}}", 3);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "search");

  // JSON that is not a call is the answer itself.
  r = parse(opts(ToolCallFormat::kLlama3), "{\"answer\": 42}", 2);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "{\"answer\": 42}");
  // A brace later in prose is not a call.
  r = parse(opts(ToolCallFormat::kLlama3), "Use {\"name\": \"a\", \"parameters\": {}} like so", 4);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "Use {\"name\": \"a\", \"parameters\": {}} like so");
  // <|python_tag|> with code: content.
  r = parse(opts(ToolCallFormat::kLlama3), "<|python_tag|>print(1)");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "<|python_tag|>print(1)");
}

TEST(ToolCallParser, Phi4ListOfCalls) {
  const std::string out =
      "<|tool_call|>[{\"name\": \"a\", \"arguments\": {}}, {\"name\": \"b\", \"arguments\": "
      "{\"x\": [1, 2]}}, {\"name\": \"c\", \"arguments\": {\"s\": \"]}\"}}]<|/tool_call|>";
  const Reply r = parse(opts(ToolCallFormat::kPhi4), out);
  ASSERT_EQ(r.calls.size(), 3u);
  EXPECT_EQ(r.calls[1].arguments, R"({"x":[1,2]})");
  EXPECT_EQ(r.calls[2].arguments, R"({"s":"]}"})");
  EXPECT_EQ(r.content, "");
  expect_piece_independent(opts(ToolCallFormat::kPhi4), out);
}

TEST(ToolCallParser, DeepSeekR1CallsAfterReasoning) {
  const std::string out =
      "<think>\nThe user wants weather.\n</think>\n\n"
      "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n"
      "{\"city\": \"Paris\"}\n```<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>"
      "get_time\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>";
  ToolCallParserOptions o = opts(ToolCallFormat::kDeepSeekR1);
  o.split_reasoning = true;
  const Reply r = parse(o, out);
  EXPECT_EQ(r.reasoning, "\nThe user wants weather.\n");
  EXPECT_EQ(r.content, "");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "get_weather");
  EXPECT_EQ(r.calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_EQ(r.calls[1].name, "get_time");
  expect_piece_independent(o, out);
}

TEST(ToolCallParser, MistralToolCalls) {
  const std::string out =
      "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": "
      "\"abcdefghi\"}, {\"name\": \"get_time\", \"arguments\": {}, \"id\": \"jklmnopqr\"}]";
  const Reply r = parse(opts(ToolCallFormat::kMistral), out);
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].arguments, R"({"city":"Paris"})");
  EXPECT_TRUE(r.calls[1].id.starts_with("call_"));
  expect_piece_independent(opts(ToolCallFormat::kMistral), out);
}

TEST(ToolCallParser, GenericShapes) {
  Reply r = parse(opts(ToolCallFormat::kGeneric),
                  "  {\"name\": \"f\", \"arguments\": {\"a\": \"b\"}}", 3);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.content, "");
  r = parse(opts(ToolCallFormat::kGeneric),
            "{\"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": \"{}\"}}, "
            "{\"name\": \"g\", \"arguments\": {}}]}");
  ASSERT_EQ(r.calls.size(), 2u);
  EXPECT_EQ(r.calls[0].name, "f");
  EXPECT_EQ(r.calls[1].name, "g");
  r = parse(opts(ToolCallFormat::kGeneric), "[{\"name\": \"f\"}]");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].arguments, "{}");
  r = parse(opts(ToolCallFormat::kGeneric), "text <tool_call>{\"name\": \"f\"}</tool_call>");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.content, "text ");
  r = parse(opts(ToolCallFormat::kGeneric), "Plain answer.");
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, "Plain answer.");
}

TEST(ToolCallParser, OffMeansEverythingIsContent) {
  ToolCallParserOptions o = opts(ToolCallFormat::kHermes);
  o.parse_calls = false;
  const std::string out = "<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>";
  const Reply r = parse(o, out, 4);
  EXPECT_TRUE(r.calls.empty());
  EXPECT_EQ(r.content, out);
}

TEST(ToolCallParser, ParallelCallsOffKeepsTheFirst) {
  ToolCallParserOptions o = opts(ToolCallFormat::kHermes);
  o.max_calls = 1;
  const Reply r = parse(o,
                        "<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>"
                        "<tool_call>{\"name\": \"b\", \"arguments\": {}}</tool_call>");
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_EQ(r.calls[0].name, "a");
}

TEST(ToolCallParser, ReasoningSplitsThinkFromTheAnswer) {
  ToolCallParserOptions o = opts(ToolCallFormat::kHermes);
  o.split_reasoning = true;
  Reply r = parse(o, "<think>\nHmm, 2+2.\n</think>\n\nIt is 4.", 2);
  EXPECT_EQ(r.reasoning, "\nHmm, 2+2.\n");
  EXPECT_EQ(r.content, "It is 4.");
  // The prompt opened the think block: the reply starts inside it.
  o.starts_in_reasoning = true;
  r = parse(o, "Thinking...</think>Answer", 3);
  EXPECT_EQ(r.reasoning, "Thinking...");
  EXPECT_EQ(r.content, "Answer");
  // No think block at all.
  o.starts_in_reasoning = false;
  r = parse(o, "  Just the answer", 1);
  EXPECT_EQ(r.reasoning, "");
  EXPECT_EQ(r.content, "  Just the answer");
  // Reasoning arrives live, before the block closes.
  ToolCallParser live(o);
  auto events = live.feed("<think>step one");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, ToolCallEvent::Kind::kReasoning);
  EXPECT_EQ(events[0].text, "step one");
  // A call after the reasoning.
  r = parse(o, "<think>call it</think><tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>");
  EXPECT_EQ(r.reasoning, "call it");
  ASSERT_EQ(r.calls.size(), 1u);
}

TEST(ToolCallFormatDetection, FixtureTemplates) {
  const auto dir = testing::fixtures_dir() / "templates";
  if (!std::filesystem::exists(dir)) GTEST_SKIP() << "fixtures not found";
  auto format_of = [&](const char* file, bool* known = nullptr) {
    return detect_tool_call_format(testing::read_file(dir / file), known);
  };
  EXPECT_EQ(format_of("Qwen-Qwen2.5-7B-Instruct.jinja"), ToolCallFormat::kHermes);
  EXPECT_EQ(format_of("qwen3-tokenizer_config.jinja"), ToolCallFormat::kHermes);
  EXPECT_EQ(format_of("NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja"),
            ToolCallFormat::kHermes);
  EXPECT_EQ(format_of("meta-llama-Llama-3.1-8B-Instruct.jinja"), ToolCallFormat::kLlama3);
  EXPECT_EQ(format_of("meta-llama-Llama-3.2-3B-Instruct.jinja"), ToolCallFormat::kLlama3);
  EXPECT_EQ(format_of("meta-llama-Llama-3.3-70B-Instruct.jinja"), ToolCallFormat::kLlama3);
  EXPECT_EQ(format_of("deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja"),
            ToolCallFormat::kDeepSeekR1);
  EXPECT_EQ(format_of("mistralai-Mistral-Nemo-Instruct-2407.jinja"), ToolCallFormat::kMistral);
  bool known = true;
  EXPECT_EQ(format_of("google-gemma-2-2b-it.jinja", &known), ToolCallFormat::kGeneric);
  EXPECT_FALSE(known);
  EXPECT_TRUE(template_has_thinking(
      testing::read_file(dir / "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja")));
  EXPECT_TRUE(template_has_thinking(testing::read_file(dir / "qwen3-tokenizer_config.jinja")));
  EXPECT_FALSE(template_has_thinking(testing::read_file(dir / "Qwen-Qwen2.5-7B-Instruct.jinja")));
  // Phi-4-mini's template (not among the fixtures) declares tools between <|tool|> tags.
  EXPECT_EQ(detect_tool_call_format("{% if message['tools'] %}<|tool|>{{ tools }}<|/tool|>"),
            ToolCallFormat::kPhi4);
}

}  // namespace
}  // namespace hearth::server
