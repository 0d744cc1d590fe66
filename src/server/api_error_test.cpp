// Every error kind gets its HTTP status in one place (api_error_from), and the transport's
// own refusals keep hearth's OpenAI-shaped bodies.
#include "server/api_error.h"

#include <gtest/gtest.h>

#include "catalog/catalog.h"

namespace hearth::server {
namespace {

struct KindCase {
  ErrorKind kind;
  int status;
  const char* type;
  const char* code;
  int retry_after;
};

TEST(ApiErrorFrom, EachKindHasItsStatusTypeAndCode) {
  const KindCase cases[] = {
      {ErrorKind::kInvalidInput, 400, "invalid_request_error", "invalid_input", 0},
      {ErrorKind::kNotFound, 404, "invalid_request_error", "not_found", 0},
      {ErrorKind::kConflict, 409, "invalid_request_error", "conflict", 0},
      {ErrorKind::kUnavailable, 503, "server_error", "unavailable", 5},
      {ErrorKind::kResourceExhausted, 507, "server_error", "insufficient_memory", 0},
      {ErrorKind::kUnsupported, 501, "server_error", "unsupported", 0},
      {ErrorKind::kCancelled, 499, "invalid_request_error", "cancelled", 0},
      {ErrorKind::kDeadlineExceeded, 504, "server_error", "deadline_exceeded", 0},
      {ErrorKind::kDataLoss, 500, "server_error", "data_loss", 0},
      {ErrorKind::kInternal, 500, "server_error", "internal", 0},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(error_kind_name(c.kind)));
    const ApiError e = api_error_from(Error{"what happened", c.kind});
    EXPECT_EQ(e.status, c.status);
    EXPECT_EQ(e.type, c.type);
    EXPECT_EQ(e.code, c.code);
    EXPECT_EQ(e.message, "what happened");
    EXPECT_EQ(e.retry_after_seconds, c.retry_after);
  }
}

TEST(ApiErrorFrom, ContextIsKeptWithTheKind) {
  auto error = with_context("loading m.gguf", Error{"no such file", ErrorKind::kNotFound});
  const ApiError e = api_error_from(error.error());
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.message, "loading m.gguf: no such file");
}

TEST(ErrorResponse, CarriesStatusRetryAfterAndOpenAiBody) {
  http::Response res = error_response(api_error_from(Error{"busy", ErrorKind::kUnavailable}));
  EXPECT_EQ(res.status, 503);
  EXPECT_EQ(res.headers.get("retry-after"), "5");
  EXPECT_EQ(res.content_type, "application/json");
  auto body = nlohmann::json::parse(res.body);
  EXPECT_EQ(body["error"]["message"], "busy");
  EXPECT_EQ(body["error"]["type"], "server_error");
  EXPECT_TRUE(body["error"]["param"].is_null());

  http::Response plain = error_response(invalid_request("bad", "model"));
  EXPECT_FALSE(plain.headers.has("Retry-After"));
  EXPECT_EQ(nlohmann::json::parse(plain.body)["error"]["param"], "model");
}

TEST(TransportErrorResponse, KeepsTheShapesClientsKnow) {
  auto unauthorized_body =
      nlohmann::json::parse(transport_error_response({401, "unauthorized", "x"}, 1 << 20).body);
  EXPECT_EQ(unauthorized_body["error"]["code"], "invalid_api_key");
  EXPECT_EQ(unauthorized_body["error"]["type"], "authentication_error");

  http::Response too_large = transport_error_response({413, "payload_too_large", ""}, 1 << 20);
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(nlohmann::json::parse(too_large.body)["error"]["code"], "payload_too_large");

  http::Response no_route =
      transport_error_response({404, "not_found", "Unknown route: GET /x"}, 1 << 20);
  EXPECT_EQ(no_route.status, 404);
  EXPECT_EQ(nlohmann::json::parse(no_route.body)["error"]["message"], "Unknown route: GET /x");

  http::Response wrong_method =
      transport_error_response({405, "method_not_allowed", "Method not allowed"}, 1 << 20);
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(nlohmann::json::parse(wrong_method.body)["error"]["type"], "invalid_request_error");
}

TEST(CatalogErrorKinds, ResolveFailuresSayWhatKindTheyAre) {
  const catalog::Catalog empty;
  const catalog::Machine machine;
  auto kind_of = [&](std::string_view spec) {
    auto ref = catalog::resolve(empty, spec, machine);
    EXPECT_FALSE(ref.has_value()) << spec;
    return ref ? ErrorKind::kInternal : ref.error().kind;
  };
  EXPECT_EQ(kind_of("no-such-alias"), ErrorKind::kNotFound);
  EXPECT_EQ(kind_of("/no/such/file.gguf"), ErrorKind::kNotFound);
  EXPECT_EQ(kind_of("hf://owner"), ErrorKind::kInvalidInput);
  EXPECT_EQ(kind_of("hf://owner/repo/model.bin"), ErrorKind::kUnsupported);
  EXPECT_EQ(kind_of(""), ErrorKind::kInvalidInput);
}

}  // namespace
}  // namespace hearth::server
