// The router's matching rules: exact before prefix, longest prefix, 404 vs 405, HEAD as GET.
#include "http/router.h"

#include <gtest/gtest.h>

namespace hearth::http {
namespace {

Handler answering(std::string name) {
  return [name](Request&) { return Response::text(200, name, "text/plain"); };
}

std::string answer(const Router& router, std::string_view method, std::string_view path,
                   std::string* remainder = nullptr) {
  RouteMatch match = router.match(method, path);
  if (match.outcome != RouteMatch::Outcome::kFound) return "";
  if (remainder) *remainder = match.remainder;
  Request req;
  return (*match.handler)(req).body;
}

TEST(HttpRouter, ExactRouteBeatsPrefixAndLongerPrefixBeatsShorter) {
  Router router;
  router.get("/*", answering("static"));
  router.get("/v1/models", answering("list"));
  router.get("/v1/models/*", answering("one"));
  std::string rest;
  EXPECT_EQ(answer(router, "GET", "/v1/models"), "list");
  EXPECT_EQ(answer(router, "GET", "/v1/models/qwen:q8_0", &rest), "one");
  EXPECT_EQ(rest, "qwen:q8_0");
  EXPECT_EQ(answer(router, "GET", "/app/index.html", &rest), "static");
  EXPECT_EQ(rest, "app/index.html");
  EXPECT_EQ(answer(router, "GET", "/", &rest), "static");
  EXPECT_EQ(rest, "");
}

TEST(HttpRouter, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.post("/v1/chat/completions", answering("chat"));
  router.get("/openai/load/*", answering("load"));
  EXPECT_EQ(router.match("GET", "/nope").outcome, RouteMatch::Outcome::kNotFound);
  EXPECT_EQ(router.match("GET", "/v1/chat/completions/x").outcome, RouteMatch::Outcome::kNotFound);

  RouteMatch wrong = router.match("GET", "/v1/chat/completions");
  EXPECT_EQ(wrong.outcome, RouteMatch::Outcome::kMethodNotAllowed);
  EXPECT_EQ(wrong.allowed, std::vector<std::string>{"POST"});
  EXPECT_EQ(router.match("DELETE", "/openai/load/x").outcome,
            RouteMatch::Outcome::kMethodNotAllowed);
}

TEST(HttpRouter, APrefixCatchAllDoesNotHideAWrongMethodOnAnExactRoute) {
  Router router;
  router.get("/*", answering("static"));
  router.post("/v1/completions", answering("complete"));
  // GET /v1/completions names the API route with the wrong method: 405, not a static file.
  EXPECT_EQ(router.match("GET", "/v1/completions").outcome, RouteMatch::Outcome::kMethodNotAllowed);
  EXPECT_EQ(answer(router, "POST", "/v1/completions"), "complete");
}

TEST(HttpRouter, HeadIsAnsweredByGet) {
  Router router;
  router.get("/health", answering("ok"));
  EXPECT_EQ(answer(router, "HEAD", "/health"), "ok");
}

TEST(HttpHeaders, NamesCompareCaseInsensitively) {
  Headers headers;
  headers.add("Content-Type", "application/json");
  headers.add("X-Two", "a");
  headers.add("x-two", "b");
  EXPECT_EQ(headers.get("content-type"), "application/json");
  EXPECT_EQ(headers.get("X-TWO"), "a");
  headers.set("X-Two", "c");
  EXPECT_EQ(headers.get("x-two"), "c");
  EXPECT_EQ(headers.fields().size(), 2u);
  EXPECT_FALSE(headers.has("Authorization"));
}

TEST(HttpRequest, QueryAndClientGoneCheck) {
  Request req;
  req.query.emplace("ttl", "5");
  EXPECT_EQ(req.query_param("ttl"), "5");
  EXPECT_FALSE(req.query_param("force").has_value());
  EXPECT_FALSE(req.client_gone());  // no transport check: never gone
  bool gone = false;
  req.client_gone_check = [&] { return gone; };
  EXPECT_FALSE(req.client_gone());
  gone = true;
  EXPECT_TRUE(req.client_gone());
}

}  // namespace
}  // namespace hearth::http
