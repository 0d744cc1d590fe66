// Unit tests of the router's pure parts: config errors, detectors, classifier, chain
// selection, cooldown and probe, and the SSE reader.
#include "router/router.h"

#include <gtest/gtest.h>

#include "router/config.h"
#include "router/detect.h"
#include "router/health.h"
#include "router/plan.h"
#include "router/sse.h"

namespace hearth::router {
namespace {

const char* kGood = R"(
[[target]]
name = "local"
kind = "local"
model = "qwen2.5-0.5b"

[[target]]
name = "coder"
kind = "local"
model = "qwen2.5-coder-1.5b"

[[target]]
name = "cloud"
kind = "openai"
base_url = "https://api.openai.com/v1/"
model = "gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"
price_per_mtok = { input = 0.15, output = 0.60 }

[[route]]
name = "auto"
policy = "local-first"
targets = ["cloud", "local"]
max_local_prompt_tokens = 100
tasks = { code = ["coder", "cloud"], reasoning = ["cloud"] }

[[route]]
name = "cf"
policy = "cloud-first"
targets = ["local", "cloud"]

[[route]]
name = "lo"
policy = "local-only"
targets = ["cloud", "local"]

[[route]]
name = "co"
policy = "cloud-only"
targets = ["local", "cloud"]

[privacy]
detect = ["email", "phone", "credit_card", "iban", "api_key", "ip_address"]
on_match = "local-only"

[fallback]
on = ["connect", "timeout", "http_429"]
first_token_timeout_ms = 2500
cooldown_s = 30
)";

RouterConfig good() {
  auto c = parse_router_config(kGood, "router.toml");
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
  return *c;
}

std::string error_of(const std::string& text) {
  auto c = parse_router_config(text, "r.toml");
  return c ? std::string("(parsed)") : c.error().message;
}

TEST(RouterConfig, ParsesTheIssueExample) {
  RouterConfig c = good();
  ASSERT_EQ(c.targets.size(), 3u);
  EXPECT_EQ(c.targets[2].base_urls, std::vector<std::string>{"https://api.openai.com/v1"});
  EXPECT_DOUBLE_EQ(c.targets[2].price_output_per_mtok, 0.60);
  EXPECT_EQ(c.route("auto")->tasks.at("code"), (std::vector<std::string>{"coder", "cloud"}));
  EXPECT_EQ(c.route("cf")->policy, Policy::kCloudFirst);
  EXPECT_TRUE(c.fallback.on_http_429);
  EXPECT_FALSE(c.fallback.on_http_5xx);
  EXPECT_EQ(c.fallback.first_token_timeout_ms, 2500);
}

TEST(RouterStatus, ShowsRemoteTargetsPrices) {
  auto router = HybridRouter::create(good());
  ASSERT_TRUE(router) << router.error().message;
  const auto status = (*router)->status_json();
  (*router)->shutdown();
  ASSERT_EQ(status["targets"].size(), 3u);
  EXPECT_FALSE(status["targets"][0].contains("price_per_mtok"));  // local: nothing to pay
  EXPECT_DOUBLE_EQ(status["targets"][2]["price_per_mtok"]["input"].get<double>(), 0.15);
  EXPECT_DOUBLE_EQ(status["targets"][2]["price_per_mtok"]["output"].get<double>(), 0.60);
}

TEST(RouterConfig, RefusesBadFilesNamingLineAndKey) {
  const std::string target = "[[target]]\nname = \"a\"\nkind = \"local\"\nmodel = \"m\"\n";
  EXPECT_EQ(error_of(target + "extra = 1\n[[route]]\nname=\"r\"\ntargets=[\"a\"]\n"),
            "r.toml:5: target[0].extra: unknown key (see docs/router.md)");
  EXPECT_EQ(error_of(target + "[[route]]\nname = \"r\"\ntargets = [\"zz\"]\n"),
            "r.toml:7: route[0].targets: unknown target \"zz\"");
  EXPECT_EQ(
      error_of(target + "[[route]]\nname = \"r\"\ntargets = [\"a\"]\n[[route]]\nname = \"r\"\n"
                        "targets = [\"a\"]\n"),
      "r.toml:9: route[1].name: a second route named \"r\"");
  EXPECT_EQ(error_of(target + target + "[[route]]\nname = \"r\"\ntargets = [\"a\"]\n"),
            "r.toml:6: target[1].name: a second target named \"a\"");
  EXPECT_EQ(
      error_of(target + "[[route]]\nname = \"r\"\npolicy = \"fast\"\ntargets = [\"a\"]\n"),
      "r.toml:7: route[0].policy: must be local-first, cloud-first, local-only or cloud-only");
  EXPECT_EQ(
      error_of(target +
               "[[route]]\nname = \"r\"\ntargets = [\"a\"]\n[fallback]\ncooldown_s = \"x\"\n"),
      "r.toml:9: fallback.cooldown_s: must be an integer");
  EXPECT_EQ(error_of(target +
                     "[[route]]\nname = \"r\"\ntargets = [\"a\"]\n[privacy]\ndetect = [\"ssn\"]\n"),
            "r.toml:9: privacy.detect: unknown detector \"ssn\"");
  EXPECT_EQ(error_of("[[target]]\nname = \"c\"\nkind = \"openai\"\nmodel = \"m\"\n"
                     "[[route]]\nname = \"r\"\ntargets = [\"c\"]\n"),
            "r.toml:1: target[0].base_url: an openai target needs base_url or base_urls");
  EXPECT_EQ(error_of(target), "r.toml:1: route: the file defines no [[route]]");
  EXPECT_NE(error_of("[[target]\n").find("r.toml:1: "), std::string::npos);  // TOML syntax
  EXPECT_EQ(error_of(target + "[[route]]\nname = \"r\"\ntargets = [\"a\"]\nsurprise = true\n"),
            "r.toml:8: route[0].surprise: unknown key (see docs/router.md)");
}

TEST(RouterDetect, FindsPrivateDataAndNotLookAlikes) {
  const auto& all = all_detector_names();
  auto found = [&](const char* text) { return detect_private(text, all); };
  using V = std::vector<std::string>;
  EXPECT_EQ(found("mail jane.doe@example.com now"), V{"email"});
  EXPECT_EQ(found("call +44 20 7946 0958"), V{"phone"});
  EXPECT_EQ(found("card 4111-1111-1111-1111"), V{"credit_card"});
  EXPECT_EQ(found("card 4111-1111-1111-1112"), V{});  // fails Luhn, too long for a phone
  EXPECT_EQ(found("IBAN GB82 WEST 1234 5698 7654 32 thanks"), V{"iban"});
  EXPECT_EQ(found("IBAN GB83WEST12345698765432"), V{});  // fails mod 97
  EXPECT_EQ(found("key sk-abcdefghijklmnopqrstuvwx"), V{"api_key"});
  EXPECT_EQ(found("host 192.168.1.20 is down"), V{"ip_address"});
  EXPECT_EQ(found("version 1.2.3.400 and 3.14"), V{});
  EXPECT_EQ(found("an @ sign, a.b and 12345"), V{});
  EXPECT_EQ(detect_private("jane@example.com", {"phone"}), V{});  // only enabled detectors
  EXPECT_TRUE(luhn_valid("79927398713"));
  EXPECT_FALSE(luhn_valid("79927398710"));
  EXPECT_TRUE(iban_valid("DE89370400440532013000"));
  EXPECT_FALSE(iban_valid("DE89370400440532013001"));
}

TEST(RouterDetect, ClassifiesTasksDeterministically) {
  EXPECT_EQ(classify_task({.text = "Fix:\n```\nx = 1\n```"}), "code");
  EXPECT_EQ(classify_task({.text = "hello", .has_tools = true}), "code");
  EXPECT_EQ(classify_task({.text = "my python function will not return"}), "code");
  EXPECT_EQ(classify_task({.text = "Solve x^2 = 4 step by step"}), "reasoning");
  EXPECT_EQ(classify_task({.text = "Tell me about the sea"}), "chat");
  EXPECT_EQ(classify_task({.text = "I found one bug"}),
            "chat");  // one programming word is not enough
}

TEST(RouterPlan, OrdersByPolicyTaskAndPrivacy) {
  RouterConfig c = good();
  auto plan = [&](PlanInput in) { return *make_plan(c, in); };
  using V = std::vector<std::string>;
  EXPECT_EQ(plan({.route = "auto", .text = "hi there"}).chain, (V{"local", "cloud"}));
  EXPECT_EQ(plan({.route = "cf", .text = "hi there"}).chain, (V{"cloud", "local"}));
  Plan code = plan({.route = "auto", .text = "hi", .task_header = "code"});
  EXPECT_EQ(code.chain, (V{"coder", "cloud"}));
  EXPECT_EQ(code.task_source, "header");
  // The header wins over the classifier.
  EXPECT_EQ(plan({.route = "auto", .text = "```x```", .task_header = "chat"}).task, "chat");
  Plan priv = plan({.route = "auto", .text = "mail a@b.io"});
  EXPECT_TRUE(priv.local_only);
  EXPECT_EQ(priv.chain, (V{"local"}));
  ASSERT_EQ(priv.skipped.size(), 1u);
  EXPECT_EQ(priv.skipped[0].reason, "privacy");
  Plan reasoning_private =
      plan({.route = "auto", .text = "hi", .task_header = "reasoning", .privacy_header = true});
  EXPECT_EQ(reasoning_private.chain, (V{"local"}));  // the route's local targets join
  Plan longp = plan({.route = "auto", .text = std::string(1000, 'a')});
  EXPECT_EQ(longp.chain, (V{"cloud"}));
  EXPECT_EQ(longp.skipped[0].reason, "prompt_too_long");
  EXPECT_FALSE(make_plan(c, {.route = "nope"}).has_value());
  Plan lo = plan({.route = "lo", .text = "hi"});
  EXPECT_EQ(lo.chain, (V{"local"}));
  ASSERT_EQ(lo.skipped.size(), 1u);
  EXPECT_EQ(lo.skipped[0].target, "cloud");
  EXPECT_EQ(lo.skipped[0].reason, "policy");
  EXPECT_EQ(plan({.route = "co", .text = "hi"}).chain, (V{"cloud"}));
  // Privacy wins over a cloud-only policy: the local target serves, or nobody does.
  EXPECT_EQ(plan({.route = "co", .text = "hi", .privacy_header = true}).chain, (V{"local"}));
}

TEST(RouterPlan, ReadsTheTextOfEveryMessageAndIgnoresOddShapes) {
  auto body = nlohmann::ordered_json::parse(R"({
    "model": "auto",
    "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "user", "content": [{"type": "text", "text": "mail a@b.io"}, {"type": "image_url"}]},
      {"role": "user", "content": 42},
      "not a message"
    ],
    "tools": [{"type": "function"}]
  })");
  PlanInput in = plan_input_from(server::RoutedApi::kChat, body);
  EXPECT_EQ(in.route, "auto");
  EXPECT_EQ(in.text, "be brief\nmail a@b.io\n");
  EXPECT_TRUE(in.has_tools);
  auto embed = nlohmann::ordered_json::parse(R"({"model": 7, "input": ["x", 3, "y"]})");
  PlanInput e = plan_input_from(server::RoutedApi::kEmbeddings, embed);
  EXPECT_EQ(e.route, "");
  EXPECT_EQ(e.text, "x\ny\n");
}

TEST(RouterHealth, CoolsDownThenLetsOneProbeThrough) {
  EndpointHealth h("cloud", 30);
  const auto t0 = Clock::now();
  ASSERT_EQ(h.try_acquire(t0), Admission::kAdmitted);
  h.failed("HTTP 500", 0, t0);
  EXPECT_EQ(h.try_acquire(t0 + std::chrono::seconds(29)), Admission::kCoolingDown);
  EXPECT_EQ(h.try_acquire(t0 + std::chrono::seconds(31)), Admission::kProbe);
  EXPECT_EQ(h.try_acquire(t0 + std::chrono::seconds(31)), Admission::kProbeInFlight);
  h.succeeded(12, 10, 5, 0.001);
  EXPECT_EQ(h.try_acquire(t0 + std::chrono::seconds(32)), Admission::kAdmitted);
  h.released();
  // Retry-After longer than cooldown_s wins.
  ASSERT_EQ(h.try_acquire(t0), Admission::kAdmitted);
  h.failed("HTTP 429", 120, t0);
  EXPECT_EQ(h.try_acquire(t0 + std::chrono::seconds(100)), Admission::kCoolingDown);
  EXPECT_EQ(h.status_json()["requests"], 4);
  EXPECT_EQ(h.status_json()["failures"], 2);
}

TEST(RouterSse, SplitsEventsAcrossReadsAndRefusesGarbage) {
  SseReader r;
  auto frames = r.feed("data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\nda");
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_FALSE(frames[0].has_content);
  frames = r.feed("ta: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\r\n\r\n: keepalive\n\n");
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].has_content);
  frames = r.feed("data: [DONE]\n\n");
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].kind, SseFrame::Kind::kDone);
  EXPECT_EQ(r.feed("data: {nope\n\n")[0].kind, SseFrame::Kind::kMalformed);
  SseReader r2;
  EXPECT_EQ(r2.feed("<html>oops</html>\n\n")[0].kind, SseFrame::Kind::kMalformed);
  SseReader r3;
  EXPECT_EQ(r3.feed("data: {\"error\":{\"message\":\"boom\"}}\n\n")[0].kind,
            SseFrame::Kind::kError);
}

}  // namespace
}  // namespace hearth::router
