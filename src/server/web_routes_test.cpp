// The web routes called through an http::Router, without a socket: / by Accept, the embedded
// assets and their headers, and the conversations API's answers to good and bad requests.
#include "server/web_routes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "web/assets.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

class WebRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth-web-routes-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto store = ConversationStore::open(dir_ / "conversations.sqlite");
    ASSERT_TRUE(store) << store.error().message;
    register_web_routes(router_, {std::move(*store), ""});
  }
  void TearDown() override { fs::remove_all(dir_); }

  http::Response call(const std::string& method, const std::string& path, std::string body = "",
                      std::vector<std::pair<std::string, std::string>> headers = {}) {
    http::Request req;
    req.method = method;
    const auto q = path.find('?');
    req.path = path.substr(0, q);
    if (q != std::string::npos) {
      const std::string query = path.substr(q + 1);
      const auto eq = query.find('=');
      req.query.emplace(query.substr(0, eq), query.substr(eq + 1));
    }
    req.body = std::move(body);
    if (method == "POST") req.headers.set("Content-Type", "application/json");
    for (auto& [name, value] : headers) req.headers.set(name, value);
    auto match = router_.match(method, req.path);
    if (match.outcome != http::RouteMatch::Outcome::kFound) {
      return http::Response::json(404, "{}");
    }
    req.path_remainder = match.remainder;
    return (*match.handler)(req);
  }

  static json body_of(const http::Response& res) { return json::parse(res.body); }

  fs::path dir_;
  http::Router router_;
};

TEST_F(WebRoutesTest, RootIsTheAppOnlyForBrowsers) {
  http::Request plain;
  EXPECT_FALSE(web_root(plain).has_value());
  plain.headers.set("Accept", "application/json");
  EXPECT_FALSE(web_root(plain).has_value());

  http::Request browser;
  browser.headers.set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8");
  auto page = web_root(browser);
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  const auto csp = page->headers.get("Content-Security-Policy");
  ASSERT_TRUE(csp.has_value());
  EXPECT_NE(csp->find("default-src 'self'"), std::string_view::npos);
  EXPECT_EQ(csp->find("http"), std::string_view::npos) << "no other origin";
  EXPECT_EQ(page->headers.get("X-Content-Type-Options"), "nosniff");
  // Cross-origin isolated, for the in-browser engine (docs/wasm.md).
  EXPECT_EQ(page->headers.get("Cross-Origin-Opener-Policy"), "same-origin");
  EXPECT_EQ(page->headers.get("Cross-Origin-Embedder-Policy"), "require-corp");
  EXPECT_EQ(page->headers.get("Cross-Origin-Resource-Policy"), "same-origin");
  if (!web::built_with_ui()) {
    // The build without the app says how to get it.
    EXPECT_NE(page->body.find("HEARTH_WEB_DIST"), std::string::npos);
  }
}

TEST_F(WebRoutesTest, AssetsHaveTheirTypesAndRevalidate) {
  if (!web::built_with_ui()) GTEST_SKIP() << "built without the web app";
  const web::Asset* js = web::find_asset("assets/app.js");
  ASSERT_NE(js, nullptr);
  EXPECT_EQ(js->content_type, "text/javascript; charset=utf-8");
  EXPECT_EQ(web::find_asset("assets/app.css")->content_type, "text/css; charset=utf-8");

  auto res = call("GET", "/assets/app.js");
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.body, js->bytes);
  EXPECT_EQ(res.headers.get("ETag"), js->etag);
  EXPECT_EQ(res.headers.get("Cache-Control"), "no-cache");
  EXPECT_EQ(call("GET", "/assets/app.js", "", {{"If-None-Match", std::string(js->etag)}}).status,
            304);
  EXPECT_EQ(call("GET", "/assets/app.js", "", {{"If-None-Match", "\"other\""}}).status, 200);
  EXPECT_EQ(call("GET", "/assets/index.html").status, 404);  // only files under assets/
  EXPECT_EQ(call("GET", "/assets/nope.js").status, 404);
  for (const char* route : {"/compare", "/models", "/documents", "/c/conv-1"}) {
    auto shell = call("GET", route);
    EXPECT_EQ(shell.status, 200) << route;
    EXPECT_EQ(shell.body, web::find_asset("index.html")->bytes) << route;
  }
}

TEST_F(WebRoutesTest, ConversationsApi) {
  auto created = call("POST", "/ui/api/conversations",
                      R"({"title":"t","messages":[{"role":"user","content":"hello there"}]})");
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string id = body_of(created)["id"];

  auto list = call("GET", "/ui/api/conversations?q=there");
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(body_of(list)["data"][0]["id"], id);
  EXPECT_TRUE(body_of(call("GET", "/ui/api/conversations?q=nothing"))["data"].empty());

  auto appended =
      call("POST", "/ui/api/conversations/" + id + "/messages",
           R"({"messages":[{"role":"assistant","content":"hi","timings":{"ttft_ms":3}}]})");
  ASSERT_EQ(appended.status, 200) << appended.body;
  EXPECT_EQ(body_of(appended)["message_count"], 2);

  auto renamed = call("POST", "/ui/api/conversations/" + id, R"({"title":"renamed"})");
  ASSERT_EQ(renamed.status, 200);
  EXPECT_EQ(body_of(renamed)["title"], "renamed");
  EXPECT_EQ(body_of(renamed)["messages"].size(), 2u);

  auto exported = call("GET", "/ui/api/conversations/" + id + "/export");
  ASSERT_EQ(exported.status, 200);
  EXPECT_EQ(exported.headers.get("Content-Disposition"),
            "attachment; filename=\"" + id + ".json\"");
  EXPECT_EQ(body_of(exported)["conversation"]["messages"][1]["timings"]["ttft_ms"], 3);

  // Bad requests: 400 with the field named; unknown ids and paths: 404.
  auto bad = call("POST", "/ui/api/conversations", R"({"messages":"no"})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_NE(bad.body.find("messages"), std::string::npos);
  EXPECT_EQ(call("POST", "/ui/api/conversations", "not json").status, 400);
  EXPECT_EQ(call("POST", "/ui/api/conversations/" + id + "/messages", "{}").status, 400);
  EXPECT_EQ(call("GET", "/ui/api/conversations/conv-none").status, 404);
  EXPECT_EQ(call("GET", "/ui/api/conversations/" + id + "/other").status, 404);
  EXPECT_EQ(call("POST", "/ui/api/conversations/conv-none", "{}").status, 404);
  // A cross-site "simple" POST (text/plain) is refused before it touches anything.
  EXPECT_EQ(call("POST", "/ui/api/conversations", "{}", {{"Content-Type", "text/plain"}}).status,
            415);
  EXPECT_EQ(call("POST", "/ui/api/conversations/" + id, R"({"title":"x"})",
                 {{"Content-Type", "text/plain"}})
                .status,
            415);
  EXPECT_EQ(body_of(call("GET", "/ui/api/conversations/" + id))["title"], "renamed");

  EXPECT_EQ(call("DELETE", "/ui/api/conversations/" + id).status, 200);
  EXPECT_EQ(call("DELETE", "/ui/api/conversations/" + id).status, 404);
}

TEST(WebRoutesNoStore, ApiAnswers503WithTheReason) {
  http::Router router;
  register_web_routes(router, {nullptr, "conversation store /x: disk full"});
  http::Request req;
  req.method = "GET";
  req.path = "/ui/api/conversations";
  auto match = router.match("GET", req.path);
  ASSERT_EQ(match.outcome, http::RouteMatch::Outcome::kFound);
  auto res = (*match.handler)(req);
  EXPECT_EQ(res.status, 503);
  EXPECT_NE(res.body.find("disk full"), std::string::npos);
}

}  // namespace
}  // namespace hearth::server
