#include "compare/compare.h"

#include <gtest/gtest.h>

namespace hearth::compare {
namespace {

TEST(ComparePrompts, StringsAndMessageLists) {
  auto p = parse_prompts(R"(["Hello", [{"role":"system","content":"Be brief."},
                                       {"role":"user","content":"Why?"}]])");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[0].messages.dump(), R"([{"role":"user","content":"Hello"}])");
  EXPECT_EQ((*p)[0].label, "Hello");
  EXPECT_EQ((*p)[1].messages.size(), 2u);
  EXPECT_EQ((*p)[1].label, "Why?");
}

TEST(ComparePrompts, ErrorsNameThePlace) {
  auto message = [](const char* text) {
    auto p = parse_prompts(text);
    return p ? std::string("ok") : p.error().message;
  };
  EXPECT_EQ(message("{"), "the prompt file is not valid JSON");
  EXPECT_NE(message(R"({"a":1})").find("JSON array"), std::string::npos);
  EXPECT_EQ(message("[]"), "the prompt file holds no prompt");
  EXPECT_EQ(message(R"(["a", 3])"),
            "prompt 2: must be a string or a list of {\"role\",\"content\"} messages");
  EXPECT_EQ(message(R"([""])"), "prompt 1: empty text");
  EXPECT_EQ(message(R"([[]])"), "prompt 1: the message list is empty");
  EXPECT_EQ(message(R"([[{"role":"user"}]])"), "prompt 1: message 1: needs a string \"content\"");
  EXPECT_NE(message(R"([[{"role":"robot","content":"x"}]])").find("unknown role \"robot\""),
            std::string::npos);
  EXPECT_EQ(message(R"([[{"role":"system","content":"x"}]])"), "prompt 1: has no user message");
}

TEST(CompareStats, PercentileInterpolates) {
  EXPECT_FALSE(percentile({}, 50));
  EXPECT_DOUBLE_EQ(*percentile({7}, 95), 7);
  EXPECT_DOUBLE_EQ(*percentile({4, 1, 3, 2}, 50), 2.5);
  EXPECT_DOUBLE_EQ(*percentile({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 95), 10.5);
  EXPECT_DOUBLE_EQ(*percentile({5, 1}, 0), 1);
  EXPECT_DOUBLE_EQ(*percentile({5, 1}, 100), 5);
}

TEST(CompareStats, TokenF1) {
  EXPECT_DOUBLE_EQ(token_f1("The cat sat.", "the CAT sat"), 1.0);
  EXPECT_DOUBLE_EQ(token_f1("a b", "c d"), 0.0);
  EXPECT_DOUBLE_EQ(token_f1("", ""), 1.0);
  EXPECT_DOUBLE_EQ(token_f1("", "x"), 0.0);
  // "a a b" vs "a c": common 1 (a counted min(2,1)), precision 1/3, recall 1/2 -> F1 0.4.
  EXPECT_NEAR(token_f1("a a b", "a c"), 0.4, 1e-12);
}

TEST(CompareHtml, EscapesEverySpecialCharacter) {
  EXPECT_EQ(html_escape(R"x(<img src=x onerror="a('b')">&)x"),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;");
}

// Two models: a local one and a remote target with prices; two prompts, one run.
CompareRun sample_run() {
  CompareRun run;
  run.models.push_back({"tiny.gguf", ModelKind::kLocal, {}});
  run.models.push_back(
      {"cloud", ModelKind::kRemote, {{"cloud", false, "api.example.com", 1.0, 4.0}}});
  run.prompts = *parse_prompts(R"(["one", "two"])");
  run.runs = 1;
  run.max_tokens = 16;
  auto rec = [](size_t m, size_t p, double ttft, double total, int64_t in, int64_t out,
                std::string answer) {
    RequestRecord r;
    r.model = m;
    r.prompt = p;
    r.ok = true;
    r.ttft_ms = ttft;
    r.total_ms = total;
    r.prompt_tokens = in;
    r.completion_tokens = out;
    r.answer = std::move(answer);
    if (m == 1) r.target = "cloud";
    return r;
  };
  run.records = {rec(0, 0, 10, 100, 5, 10, "the cat sat"), rec(1, 0, 50, 400, 1000, 500, "the cat"),
                 rec(0, 1, 20, 200, 5, 10, "a dog"), rec(1, 1, 60, 500, 1000, 500, "a dog")};
  return run;
}

TEST(CompareSummary, LatencyCostDestinationsAgreement) {
  const auto run = sample_run();
  const auto s = summarize(run);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_DOUBLE_EQ(*s[0].ttft_p50, 15);
  EXPECT_DOUBLE_EQ(*s[0].e2e_p95, 195);
  EXPECT_DOUBLE_EQ(*s[0].cost_per_1k, 0);
  // 1000 in x $1/M + 500 out x $4/M = $0.003 per request -> $3 per 1k.
  EXPECT_NEAR(*s[1].cost_per_1k, 3.0, 1e-12);
  EXPECT_TRUE(s[1].data_left_machine);
  ASSERT_EQ(s[1].destinations.size(), 1u);
  EXPECT_EQ(s[1].destinations[0].first, "api.example.com");
  EXPECT_EQ(s[0].destinations[0].first, "this machine");
  // Prompt 1: F1("the cat sat", "the cat") = 0.8; prompt 2: 1.0.
  EXPECT_NEAR(*s[0].agreement, 0.9, 1e-12);
  EXPECT_NEAR(*s[1].agreement, 0.9, 1e-12);
}

TEST(CompareSummary, MissingUsageMakesRemoteCostUnknown) {
  auto run = sample_run();
  run.records[1].completion_tokens = -1;
  const auto s = summarize(run);
  EXPECT_FALSE(s[1].cost_per_1k);
  EXPECT_EQ(s[1].cost_unknown, 1u);
}

TEST(CompareMatrix, RulesRateEachCriterion) {
  auto run = sample_run();
  // The remote model fails one of three requests.
  RequestRecord failed;
  failed.model = 1;
  failed.prompt = 1;
  failed.run = 1;
  failed.error = "boom";
  run.records.push_back(failed);
  const auto d = decide(run, summarize(run));
  ASSERT_EQ(d.rows.size(), 5u);
  auto rating = [&](size_t row, size_t m) { return d.rows[row].cells[m].rating; };
  // Latency: local p95 195 ms is the fastest; remote 495 ms is 2.5x: fair.
  EXPECT_EQ(rating(0, 0), Rating::kGood);
  EXPECT_EQ(rating(0, 1), Rating::kFair);
  // Cost: 0 good, $3 per 1k poor.
  EXPECT_EQ(rating(1, 0), Rating::kGood);
  EXPECT_EQ(rating(1, 1), Rating::kPoor);
  // Privacy: local good, remote poor (names the host).
  EXPECT_EQ(rating(2, 0), Rating::kGood);
  EXPECT_EQ(rating(2, 1), Rating::kPoor);
  EXPECT_EQ(d.rows[2].cells[1].figure, "sent to api.example.com");
  // Capability: agreement 0.9 both.
  EXPECT_EQ(rating(3, 0), Rating::kGood);
  // Reliability: 0 errors good; 1 of 3 failed poor.
  EXPECT_EQ(rating(4, 0), Rating::kGood);
  EXPECT_EQ(rating(4, 1), Rating::kPoor);
  EXPECT_EQ(d.verdict.rfind("Use tiny.gguf:", 0), 0u) << d.verdict;
}

TEST(CompareMatrix, RemoteWinsWhenNoLocalModelQualifies) {
  auto run = sample_run();
  run.reference = 1;
  run.records[0].answer = "zebra";
  run.records[2].answer = "quartz";
  const auto d = decide(run, summarize(run));
  EXPECT_EQ(d.rows[3].cells[0].rating, Rating::kPoor);
  EXPECT_EQ(d.rows[3].cells[1].figure, "the reference");
  EXPECT_EQ(d.verdict.rfind("Use cloud:", 0), 0u) << d.verdict;
}

TEST(CompareHtml, ReportIsSelfContainedAndEscaped) {
  auto run = sample_run();
  run.records[0].answer = "<script>alert(1)</script>";
  run.models[1].name = "cl<b>oud";
  const std::string html = render_html(run);
  EXPECT_NE(html.find("Content-Security-Policy\" content=\"default-src 'none'"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<b>oud"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(html.find("cl&lt;b&gt;oud"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("SLM: on this machine"), std::string::npos);
  EXPECT_NE(html.find("LLM: remote"), std::string::npos);
  EXPECT_EQ(html.find("http://"), std::string::npos);  // nothing to load from anywhere
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(CompareJson, CarriesRawFiguresAndMatrix) {
  const auto doc = to_json(sample_run());
  EXPECT_EQ(doc["mode"], "fair");
  EXPECT_EQ(doc["requests"].size(), 4u);
  EXPECT_EQ(doc["requests"][1]["target"], "cloud");
  EXPECT_NEAR(doc["requests"][1]["cost_usd"].get<double>(), 0.003, 1e-12);
  EXPECT_EQ(doc["models"][0]["summary"]["ttft_ms_p50"], 15.0);
  EXPECT_EQ(doc["decision"]["matrix"].size(), 5u);
  EXPECT_EQ(doc["decision"]["matrix"][2]["cells"][1]["rating"], "poor");
}

}  // namespace
}  // namespace hearth::compare
