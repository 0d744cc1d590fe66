// The tool-call constraint of tool_choice "auto" per family: canned token sequences (triggers
// split across tokens, names and arguments the schema refuses, the forced closing text,
// parallel_tool_calls false, the whitespace bound), random walks through what the constraint
// accepts, and a random-weight Qwen2.5 model whose output is pushed into calls.
#include "server/tool_constraint.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>

#include "engine/tokenizer/tokenizer.h"
#include "server/chat_reply.h"
#include "server/served_model.h"
#include "support/fixtures.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

// The model tests use tools whose arguments are enums and booleans: a random model writes a
// free string forever (nothing bounds a string's length but max_tokens).
json bounded_tools() {
  return json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {
      "type": "object",
      "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]},
                     "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
      "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "set_alarm", "parameters": {
      "type": "object", "properties": {"on": {"type": "boolean"}}, "required": ["on"]}}}])");
}

json tools() {
  return json::parse(R"([
    {"type": "function", "function": {"name": "get_weather", "parameters": {
      "type": "object",
      "properties": {"city": {"type": "string", "enum": ["Paris", "Oslo"]},
                     "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
      "required": ["city", "unit"]}}},
    {"type": "function", "function": {"name": "get_time", "parameters": {
      "type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}}}])");
}

ChatRequest request(bool parallel = true, const std::string& tool_choice = "auto") {
  json body = {{"messages", {{{"role", "user"}, {"content", "weather?"}}}},
               {"tools", tools()},
               {"tool_choice", tool_choice},
               {"parallel_tool_calls", parallel}};
  auto parsed = parse_chat_request(body);
  EXPECT_TRUE(parsed) << parsed.error().message;
  return *parsed;
}

std::shared_ptr<const CallConstraintSpec> spec(ToolCallFormat format, bool parallel = true,
                                               bool thinking = false) {
  auto s = auto_tool_call_constraint(request(parallel), {.format = format, .thinking = thinking});
  EXPECT_TRUE(s);
  return s;
}

// Feeds the pieces; the index of the first refused one, or -1.
int feed(CallConstraint& c, const std::vector<std::string>& pieces) {
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (!c.accepts(pieces[i])) return static_cast<int>(i);
    c.commit(pieces[i]);
  }
  return -1;
}

struct Parsed {
  std::string content;
  std::vector<std::pair<std::string, json>> calls;  // name, arguments
};

Parsed parse_reply(const ChatRequest& chat, const ChatReplySyntax& syntax,
                   const std::vector<std::string>& pieces) {
  ToolCallParser parser = make_reply_parser(chat, syntax);
  std::vector<ToolCallEvent> events;
  for (const auto& p : pieces) {
    auto out = parser.feed(p);
    events.insert(events.end(), out.begin(), out.end());
  }
  auto out = parser.finish();
  events.insert(events.end(), out.begin(), out.end());
  Parsed r;
  for (const auto& e : events) {
    if (e.kind == ToolCallEvent::Kind::kContent) r.content += e.text;
    if (e.kind == ToolCallEvent::Kind::kCallStart) r.calls.push_back({e.name, json()});
    if (e.kind == ToolCallEvent::Kind::kArguments) {
      // Malformed JSON must fail the test, not throw out of it.
      r.calls.back().second = json::parse(e.text, nullptr, /*allow_exceptions=*/false);
    }
  }
  return r;
}

Parsed parse(ToolCallFormat format, const std::vector<std::string>& pieces, bool parallel = true,
             bool thinking = false) {
  ChatReplySyntax syntax;
  syntax.tool_format = format;
  syntax.thinking = thinking;
  return parse_reply(request(parallel), syntax, pieces);
}

// The request's schemas, checked by hand: the constraint must never let anything else through.
bool matches_schema(const std::string& name, const json& args) {
  if (!args.is_object()) return false;
  if (name == "get_weather") {
    if (args.size() != 2 || !args.contains("city") || !args.contains("unit")) return false;
    return (args["city"] == "Paris" || args["city"] == "Oslo") &&
           (args["unit"] == "celsius" || args["unit"] == "fahrenheit");
  }
  if (name == "get_time") return args.size() == 1 && args.contains("tz") && args["tz"].is_string();
  if (name == "set_alarm")
    return args.size() == 1 && args.contains("on") && args["on"].is_boolean();
  return false;
}

const std::string kWeather =
    R"({"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}})";

TEST(ToolAutoConstraint, HermesTriggerSplitAcrossTokensStartsTheCall) {
  const std::vector<std::string> pieces = {
      "Let me check. <",
      "tool",
      "_c",
      "all>\n{\"",
      "name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</",
      "tool_call>",
      " Done."};
  CallConstraint c(spec(ToolCallFormat::kHermes));
  EXPECT_EQ(feed(c, {pieces.begin(), pieces.begin() + 3}), -1);
  EXPECT_FALSE(c.in_call());
  EXPECT_EQ(feed(c, {pieces[3]}), -1);
  EXPECT_TRUE(c.in_call());  // the trigger was completed inside a token
  EXPECT_EQ(feed(c, {pieces.begin() + 4, pieces.end()}), -1);
  EXPECT_EQ(c.calls(), 1);
  EXPECT_FALSE(c.in_call());
  const Parsed r = parse(ToolCallFormat::kHermes, pieces);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_TRUE(matches_schema(r.calls[0].first, r.calls[0].second));
  EXPECT_EQ(r.content, "Let me check.  Done.");
}

TEST(ToolAutoConstraint, ATokenThatCompletesTheTriggerMustContinueTheCallValidly) {
  CallConstraint c(spec(ToolCallFormat::kHermes));
  ASSERT_EQ(feed(c, {"Sure "}), -1);
  EXPECT_FALSE(c.accepts("<tool_call>{\"nom"));
  EXPECT_FALSE(c.accepts("<tool_call>hello"));
  EXPECT_TRUE(c.accepts("<tool_call>{\"na"));
  EXPECT_TRUE(c.accepts("<tool_call"));  // not a call yet: anything may follow
  ASSERT_EQ(feed(c, {"<tool_call"}), -1);
  EXPECT_TRUE(c.accepts("s are fun"));
}

TEST(ToolAutoConstraint, ANameNotAmongTheToolsCannotBeWritten) {
  CallConstraint c(spec(ToolCallFormat::kHermes));
  ASSERT_EQ(feed(c, {"<tool_call>", "{\"name\": \""}), -1);
  EXPECT_TRUE(c.accepts("get_w"));
  EXPECT_TRUE(c.accepts("get_time\""));
  EXPECT_FALSE(c.accepts("rm"));
  EXPECT_FALSE(c.accepts("get_weather2"));
  EXPECT_FALSE(c.accepts("get_wea\""));
  // The name comes first: it picks the arguments' schema.
  CallConstraint first(spec(ToolCallFormat::kHermes));
  ASSERT_EQ(feed(first, {"<tool_call>{"}), -1);
  EXPECT_FALSE(first.accepts("\"arguments\""));
  EXPECT_TRUE(first.accepts("\"name\""));
}

TEST(ToolAutoConstraint, ArgumentsFollowTheNamedToolsSchema) {
  CallConstraint c(spec(ToolCallFormat::kHermes));
  ASSERT_EQ(feed(c, {"<tool_call>", "{\"name\": \"get_weather\", \"arguments\": {"}), -1);
  EXPECT_FALSE(c.accepts("\"tz\""));  // the other tool's parameter
  EXPECT_FALSE(c.accepts("\"city\": \"Rome\""));
  EXPECT_FALSE(c.accepts("\"city\": 3"));
  EXPECT_FALSE(c.accepts("\"city\": \"Oslo\"}"));  // unit is required
  EXPECT_TRUE(c.accepts("\"city\": \"Oslo\", \"unit\": \"celsius\"}}"));
  CallConstraint t(spec(ToolCallFormat::kHermes));
  ASSERT_EQ(feed(t, {"<tool_call>{\"name\":\"get_time\",\"arguments\":{"}), -1);
  EXPECT_FALSE(t.accepts("\"city\""));
  EXPECT_TRUE(t.accepts("\"tz\": \"UTC\"}}"));
}

TEST(ToolAutoConstraint, ClosingTextIsForcedAndNoEndInsideACall) {
  CallConstraint c(spec(ToolCallFormat::kHermes));
  ASSERT_EQ(feed(c, {"<tool_call>\n", kWeather}), -1);
  EXPECT_TRUE(c.in_call());  // the end of generation is refused until the tag is written
  EXPECT_FALSE(c.accepts("Sure"));
  EXPECT_FALSE(c.accepts("</tool_cal>"));
  EXPECT_FALSE(c.accepts("\n\n</tool_call>"));
  EXPECT_FALSE(c.accepts(""));
  EXPECT_TRUE(c.accepts(" \n</tool_call>"));
  ASSERT_EQ(feed(c, {"\n</tool_call>"}), -1);
  EXPECT_FALSE(c.in_call());
  EXPECT_TRUE(c.accepts("free text again"));
  // The parser ends a call at its closing text, so a string inside the call cannot hold it.
  CallConstraint s(spec(ToolCallFormat::kHermes));
  ASSERT_EQ(feed(s, {"<tool_call>{\"name\": \"get_time\", \"arguments\": {\"tz\": \""}), -1);
  EXPECT_TRUE(s.accepts("</tool_cal"));
  EXPECT_FALSE(s.accepts("</tool_call>"));
  ASSERT_EQ(feed(s, {"</tool", "_cal"}), -1);
  EXPECT_FALSE(s.accepts("l>"));
  EXPECT_TRUE(s.accepts("l\"}}"));
}

TEST(ToolAutoConstraint, ParallelToolCallsFalseStopsAfterOneCall) {
  CallConstraint c(spec(ToolCallFormat::kHermes, /*parallel=*/false));
  ASSERT_EQ(feed(c, {"<tool_call>", kWeather, "</tool_call>"}), -1);
  EXPECT_TRUE(c.finished());
  EXPECT_FALSE(c.accepts("\n"));
  EXPECT_FALSE(c.accepts("<tool_call>"));
  // With parallel calls allowed, a second call and text after it are fine.
  const std::vector<std::string> two = {"<tool_call>",
                                        kWeather,
                                        "</tool_call>\n<tool_call>",
                                        R"({"name": "get_time", "arguments": {"tz": "UTC"}})",
                                        "</tool_call>",
                                        "ok"};
  CallConstraint p(spec(ToolCallFormat::kHermes));
  EXPECT_EQ(feed(p, two), -1);
  EXPECT_EQ(p.calls(), 2);
  const Parsed r = parse(ToolCallFormat::kHermes, two);
  ASSERT_EQ(r.calls.size(), 2u);
  for (const auto& [name, args] : r.calls) EXPECT_TRUE(matches_schema(name, args)) << name;
}

TEST(ToolAutoConstraint, WhitespaceInsideACallIsBounded) {
  CallConstraint c(spec(ToolCallFormat::kHermes));
  ASSERT_EQ(feed(c, {"<tool_call>"}), -1);
  EXPECT_FALSE(c.accepts("\n\n{"));
  EXPECT_FALSE(c.accepts(std::string(12, ' ')));
  EXPECT_TRUE(c.accepts("\n        {"));
  ASSERT_EQ(feed(c, {"{\"name\":"}), -1);
  EXPECT_FALSE(c.accepts("\n \n"));
  EXPECT_FALSE(c.accepts("\t\t\t\t\t\t\t\t\t\t"));
  EXPECT_TRUE(c.accepts("\n \"get_time\""));
  // Outside a call, whitespace is the model's business.
  CallConstraint free(spec(ToolCallFormat::kHermes));
  EXPECT_TRUE(free.accepts(std::string(40, '\n')));
}

TEST(ToolAutoConstraint, Llama3BareJsonAndPythonTag) {
  const std::vector<std::string> bare = {" {\"", "name",
                                         "\": \"get_time\", \"parameters\": {\"tz\": \"UTC\"}}"};
  CallConstraint c(spec(ToolCallFormat::kLlama3));
  EXPECT_EQ(feed(c, {bare[0], bare[1]}), -1);
  EXPECT_FALSE(c.in_call());
  EXPECT_FALSE(c.accepts("\": \"rm\""));  // {"name" completed: a call, and rm is no tool
  EXPECT_FALSE(c.accepts("\": \"get_time\", \"arguments\""));  // Llama 3 writes "parameters"
  EXPECT_EQ(feed(c, {bare[2]}), -1);
  EXPECT_EQ(c.calls(), 1);
  const Parsed r = parse(ToolCallFormat::kLlama3, bare);
  ASSERT_EQ(r.calls.size(), 1u);
  EXPECT_TRUE(matches_schema(r.calls[0].first, r.calls[0].second));

  // A JSON answer that is not a call, or a call-like object after text, stays free.
  CallConstraint answer(spec(ToolCallFormat::kLlama3));
  EXPECT_EQ(feed(answer, {"{\"answer\": 42, oops"}), -1);
  // The parser reads such a value whole, so a marker inside it is no call.
  CallConstraint inside(spec(ToolCallFormat::kLlama3));
  EXPECT_EQ(feed(inside, {"{\"a\": \"x\"}", "<|python_tag|>"}), -1);
  EXPECT_TRUE(inside.in_call());  // the value ended: the marker after it counts
  CallConstraint within(spec(ToolCallFormat::kLlama3));
  EXPECT_EQ(feed(within, {"{\"a\": {\"b\": 1}, ", "<|python_tag|>"}), -1);
  EXPECT_FALSE(within.in_call());
  CallConstraint late(spec(ToolCallFormat::kLlama3));
  EXPECT_EQ(feed(late, {"Hi {\"name\": 1}"}), -1);

  const std::vector<std::string> tagged = {
      "<|python", "_tag|>", R"({"name": "get_weather", "parameters": {"city": "Oslo", )",
      R"("unit": "fahrenheit"}})"};
  CallConstraint t(spec(ToolCallFormat::kLlama3));
  EXPECT_EQ(feed(t, tagged), -1);
  EXPECT_EQ(t.calls(), 1);
  const Parsed rt = parse(ToolCallFormat::kLlama3, tagged);
  ASSERT_EQ(rt.calls.size(), 1u);
  EXPECT_TRUE(matches_schema(rt.calls[0].first, rt.calls[0].second));
}

TEST(ToolAutoConstraint, MistralAndPhi4ListsOfCalls) {
  const std::string two = "[" + kWeather + R"(, {"name": "get_time", "arguments": {"tz": "X"}}])";
  CallConstraint m(spec(ToolCallFormat::kMistral));
  EXPECT_EQ(feed(m, {"[TOOL", "_CALLS]", two}), -1);
  EXPECT_FALSE(m.in_call());
  const Parsed r = parse(ToolCallFormat::kMistral, {"[TOOL_CALLS]", two});
  ASSERT_EQ(r.calls.size(), 2u);
  for (const auto& [name, args] : r.calls) EXPECT_TRUE(matches_schema(name, args)) << name;

  CallConstraint empty(spec(ToolCallFormat::kMistral));
  EXPECT_FALSE(empty.accepts("[TOOL_CALLS][]"));
  CallConstraint one(spec(ToolCallFormat::kMistral, /*parallel=*/false));
  EXPECT_FALSE(one.accepts("[TOOL_CALLS][" + kWeather + ","));
  EXPECT_TRUE(one.accepts("[TOOL_CALLS][" + kWeather + "]"));

  CallConstraint phi(spec(ToolCallFormat::kPhi4));
  EXPECT_EQ(feed(phi, {"<|tool_call|>", two}), -1);
  EXPECT_TRUE(phi.in_call());
  EXPECT_FALSE(phi.accepts("\n\n"));
  EXPECT_EQ(feed(phi, {"<|/tool_call|>"}), -1);
  EXPECT_FALSE(phi.in_call());
  const Parsed rp = parse(ToolCallFormat::kPhi4, {"<|tool_call|>", two, "<|/tool_call|>"});
  EXPECT_EQ(rp.calls.size(), 2u);
}

TEST(ToolAutoConstraint, GenericFallbackTagsAndBareObjects) {
  CallConstraint c(spec(ToolCallFormat::kGeneric));
  EXPECT_FALSE(c.accepts("{\"name\": \"nope\""));
  EXPECT_EQ(feed(c, {kWeather}), -1);
  EXPECT_EQ(c.calls(), 1);
  EXPECT_EQ(feed(c, {"\n<tool_call>", kWeather, "</tool_call>"}), -1);
  EXPECT_EQ(c.calls(), 2);
}

TEST(ToolAutoConstraint, NothingToConstrain) {
  EXPECT_FALSE(auto_tool_call_constraint(request(), {.format = ToolCallFormat::kDeepSeekR1}));
  EXPECT_FALSE(auto_tool_call_constraint(request(true, "none"), {}));
  EXPECT_FALSE(auto_tool_call_constraint(request(true, "required"), {}));
}

TEST(ToolAutoConstraint, ReasoningIsNotSearchedForCalls) {
  CallConstraint c(spec(ToolCallFormat::kHermes, true, /*thinking=*/true));
  EXPECT_EQ(feed(c, {"\n<th", "ink>maybe <tool_call>{oops", "</think>\n"}), -1);
  EXPECT_FALSE(c.in_call());
  EXPECT_FALSE(c.accepts("<tool_call>{\"name\": \"x"));
  EXPECT_EQ(feed(c, {"<tool_call>", kWeather, "</tool_call>"}), -1);
  EXPECT_EQ(c.calls(), 1);
}

// Random walks through the accepted pieces of a pool that holds the family's markers, JSON
// punctuation, the names, keys and values (good and bad) and plain words: whatever path the
// "model" takes, every call the reply parser reads is valid and matches its tool's schema.
TEST(ToolAutoConstraint, RandomWalksOnlyEverYieldValidCalls) {
  const std::vector<std::string> common = {"{",
                                           "}",
                                           "[",
                                           "]",
                                           "\"",
                                           ":",
                                           ",",
                                           " ",
                                           "\n",
                                           "  ",
                                           "{\"",
                                           "\":",
                                           "\", \"",
                                           "name",
                                           "\"name\"",
                                           "arguments",
                                           "parameters",
                                           "get_weather",
                                           "get_time",
                                           "get_",
                                           "weather",
                                           "rm",
                                           "city",
                                           "unit",
                                           "tz",
                                           "Paris",
                                           "Oslo",
                                           "Rome",
                                           "celsius",
                                           "fahrenheit",
                                           "UTC",
                                           "1",
                                           "true",
                                           "null",
                                           "hello",
                                           " world",
                                           "<",
                                           ">",
                                           "/",
                                           "tool",
                                           "_call",
                                           "<tool_call>",
                                           "</tool_call>",
                                           "<|python_tag|>",
                                           "[TOOL_CALLS]",
                                           "<|tool_call|>",
                                           "<|/tool_call|>",
                                           "\\n",
                                           "\\\""};
  int total_calls = 0;
  for (ToolCallFormat format :
       {ToolCallFormat::kHermes, ToolCallFormat::kLlama3, ToolCallFormat::kMistral,
        ToolCallFormat::kPhi4, ToolCallFormat::kGeneric}) {
    for (bool parallel : {true, false}) {
      auto s = spec(format, parallel);
      std::mt19937 rng(7);
      for (int walk = 0; walk < 150; ++walk) {
        CallConstraint c(s);
        std::vector<std::string> pieces;
        for (int step = 0; step < 120 && !c.finished(); ++step) {
          std::vector<const std::string*> ok;
          for (const auto& p : common) {
            if (c.accepts(p)) ok.push_back(&p);
          }
          if (ok.empty()) break;
          const std::string& pick = *ok[rng() % ok.size()];
          c.commit(pick);
          pieces.push_back(pick);
        }
        const Parsed r = parse(format, pieces, parallel);
        for (const auto& [name, args] : r.calls) {
          EXPECT_TRUE(matches_schema(name, args))
              << tool_call_format_name(format) << ": " << name << " " << args.dump();
        }
        if (!c.in_call()) {
          std::string text;
          for (const auto& p : pieces) text += p;
          EXPECT_GE(static_cast<int>(r.calls.size()), c.calls())
              << tool_call_format_name(format) << ": " << json(text).dump();
        }
        if (!parallel) {
          EXPECT_LE(r.calls.size(), 1u);
        }
        total_calls += static_cast<int>(r.calls.size());
      }
    }
  }
  EXPECT_GT(total_calls, 50);  // the walks did reach calls
}

// A random-weight Qwen2.5 model (real tokenizer and template) served with two slots, so the
// constraint runs per sequence in the batch scheduler. A logit bias on the <tool_call> token
// pushes its output into calls; every call that comes out must be valid.
class ToolAutoConstraintModel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto path = testing::fixtures_dir() / "models" / "tiny-qwen2-q8_0.gguf";
    if (!std::filesystem::exists(path)) return;
    auto model = Model::load(path, ModelOptions{.n_threads = 1, .n_ctx = 512});
    ASSERT_TRUE(model) << model.error().message;
    SchedulerOptions options;
    options.n_slots = 2;
    options.n_ctx = 512;
    options.n_threads = 1;
    auto served = ServedModel::create("qwen", *model, options, nullptr);
    ASSERT_TRUE(served) << served.error().message;
    served_ = std::move(*served);
    trigger_ = served_->model().tokenizer().find_token("<tool_call>");
  }
  static void TearDownTestSuite() { served_.reset(); }
  void SetUp() override {
    if (!served_) GTEST_SKIP() << "fixtures not found";
    ASSERT_GE(trigger_, 0);
  }

  struct Outcome {
    Parsed reply;
    FinishReason finish = FinishReason::kStop;
  };

  static ChatRequest biased(uint64_t seed, float bias, int max_tokens, bool parallel) {
    json body = {{"messages", {{{"role", "user"}, {"content", "What is the weather in Paris?"}}}},
                 {"tools", bounded_tools()},
                 {"tool_choice", "auto"},
                 {"parallel_tool_calls", parallel},
                 {"seed", seed},
                 {"temperature", 1.0},
                 {"max_tokens", max_tokens},
                 {"logit_bias", {{std::to_string(trigger_), bias}}}};
    auto parsed = parse_chat_request(body);
    EXPECT_TRUE(parsed) << parsed.error().message;
    return *parsed;
  }

  // Submits every request before reading any, so they share the batch.
  static std::vector<Outcome> run(const std::vector<ChatRequest>& requests) {
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (const auto& r : requests) {
      auto stream = served_->chat(r);
      EXPECT_TRUE(stream) << stream.error().message;
      if (!stream) return {};
      streams.push_back(*stream);
    }
    std::vector<Outcome> out;
    for (size_t i = 0; i < streams.size(); ++i) {
      std::vector<std::string> texts;
      Outcome o;
      for (;;) {
        auto event = streams[i]->next(std::chrono::seconds(120));
        EXPECT_TRUE(event);
        if (!event) break;
        if (event->kind == StreamEvent::Kind::kText) texts.push_back(event->text);
        if (event->kind == StreamEvent::Kind::kError) ADD_FAILURE() << event->error.message;
        if (event->kind != StreamEvent::Kind::kText) {
          o.finish = event->finish;
          break;
        }
      }
      o.reply = parse_reply(requests[i], streams[i]->reply_syntax, texts);
      out.push_back(std::move(o));
    }
    return out;
  }

  static inline std::unique_ptr<ServedModel> served_;
  static inline int32_t trigger_ = -1;
};

TEST_F(ToolAutoConstraintModel, EveryCallPushedOutOfARandomModelIsValid) {
  std::vector<ChatRequest> requests;
  for (uint64_t seed = 1; seed <= 4; ++seed) requests.push_back(biased(seed, 100, 96, true));
  const auto outcomes = run(requests);
  ASSERT_EQ(outcomes.size(), requests.size());
  for (const auto& o : outcomes) {
    ASSERT_FALSE(o.reply.calls.empty()) << o.reply.content;
    for (const auto& [name, args] : o.reply.calls) {
      EXPECT_TRUE(matches_schema(name, args)) << name << " " << args.dump();
    }
    // A trigger left in the content is only ever the call max_tokens cut.
    if (o.finish != FinishReason::kLength) {
      EXPECT_EQ(o.reply.content.find("<tool_call>"), std::string::npos) << o.reply.content;
    }
  }
}

TEST_F(ToolAutoConstraintModel, OccasionalTriggersStillGiveValidCalls) {
  std::vector<ChatRequest> requests;
  for (uint64_t seed = 11; seed <= 16; ++seed) requests.push_back(biased(seed, 22, 96, true));
  int calls = 0;
  const auto outcomes = run(requests);
  for (const auto& o : outcomes) {
    for (const auto& [name, args] : o.reply.calls) {
      EXPECT_TRUE(matches_schema(name, args)) << name << " " << args.dump();
      ++calls;
    }
    if (o.finish != FinishReason::kLength) {
      EXPECT_EQ(o.reply.content.find("<tool_call>"), std::string::npos) << o.reply.content;
    }
  }
  EXPECT_GT(calls, 0) << outcomes.front().reply.content;
}

TEST_F(ToolAutoConstraintModel, ParallelToolCallsFalseEndsAfterOneCall) {
  const auto outcomes = run({biased(3, 100, 200, false), biased(4, 100, 200, false)});
  for (const auto& o : outcomes) {
    ASSERT_EQ(o.reply.calls.size(), 1u) << o.reply.content;
    EXPECT_TRUE(matches_schema(o.reply.calls[0].first, o.reply.calls[0].second));
    EXPECT_EQ(o.finish, FinishReason::kStop);
    EXPECT_EQ(chat_finish_reason(o.finish, 1), "tool_calls");
    EXPECT_EQ(o.reply.content, "");
  }
}

TEST_F(ToolAutoConstraintModel, ACallCutByMaxTokensIsContentWithFinishLength) {
  const auto outcomes = run({biased(5, 100, 6, true)});
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_EQ(outcomes[0].finish, FinishReason::kLength);
  EXPECT_TRUE(outcomes[0].reply.calls.empty());
  EXPECT_TRUE(outcomes[0].reply.content.starts_with("<tool_call>")) << outcomes[0].reply.content;
}

}  // namespace
}  // namespace hearth::server
