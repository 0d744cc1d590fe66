#include "http/request_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace hearth::http {
namespace {

using Status = RequestParser::Status;

// Feeds `bytes` `step` bytes at a time until the request completes or fails.
Status feed_all(RequestParser& parser, std::string_view bytes, size_t step = 1 << 20) {
  Status last = Status::kNeedMore;
  while (!bytes.empty()) {
    std::string_view piece = bytes.substr(0, step);
    bytes.remove_prefix(piece.size());
    for (;;) {
      last = parser.feed(piece);
      if (last == Status::kComplete || last == Status::kError) return last;
      if (last == Status::kNeedMore) break;
    }
    if (!piece.empty()) ADD_FAILURE() << "parser left bytes unconsumed";
  }
  if (last == Status::kHeadComplete) return parser.feed(bytes);
  return last;
}

TEST(RequestParser, ParsesAGetWithQueryAndHeaders) {
  RequestParser parser;
  ASSERT_EQ(feed_all(parser,
                     "GET /v1/models/a%20b?x=1&y=hello+world&z=%41 HTTP/1.1\r\n"
                     "Host: localhost\r\nX-Thing:  spaced value \r\n\r\n"),
            Status::kComplete);
  const Request& r = parser.request().request;
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/v1/models/a b");
  EXPECT_EQ(r.query_param("y"), "hello world");
  EXPECT_EQ(r.query_param("z"), "A");
  EXPECT_EQ(r.header("x-thing"), "spaced value");
  EXPECT_TRUE(parser.request().keep_alive);
}

TEST(RequestParser, EveryByteSplitGivesTheSameRequest) {
  const std::string wire =
      "POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world";
  for (size_t step : {1u, 2u, 3u, 7u, 64u}) {
    RequestParser parser;
    ASSERT_EQ(feed_all(parser, wire, step), Status::kComplete) << step;
    EXPECT_EQ(parser.request().request.body, "hello world") << step;
  }
}

TEST(RequestParser, ReportsTheHeadBeforeTheBody) {
  RequestParser parser;
  std::string_view in = "POST /x HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";
  EXPECT_EQ(parser.feed(in), Status::kHeadComplete);
  EXPECT_TRUE(parser.request().expect_continue);
  EXPECT_TRUE(parser.reading_body());
  EXPECT_EQ(parser.feed(in), Status::kNeedMore);
  std::string_view body = "abcd";
  EXPECT_EQ(parser.feed(body), Status::kComplete);
  EXPECT_EQ(parser.request().request.body, "abcd");
}

TEST(RequestParser, DecodesChunkedBodiesAndSkipsTrailers) {
  const std::string wire =
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: y\r\n\r\n";
  for (size_t step : {1u, 5u, 1000u}) {
    RequestParser parser;
    ASSERT_EQ(feed_all(parser, wire, step), Status::kComplete) << step;
    EXPECT_EQ(parser.request().request.body, "hello world");
  }
}

TEST(RequestParser, HandsTheBodyToASinkUnderTheRoutesLimit) {
  RequestParser parser(ParserLimits{.max_body_bytes = 1000});
  std::string_view in = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(parser.feed(in), Status::kHeadComplete);
  std::string sunk;
  ASSERT_TRUE(parser.restrict_body(8, [&](std::string_view b) { sunk.append(b); }));
  std::string_view body = "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n";
  EXPECT_EQ(parser.feed(body), Status::kComplete);
  EXPECT_EQ(sunk, "helloabc");
  EXPECT_TRUE(parser.request().request.body.empty());
  EXPECT_EQ(parser.body_received(), 8u);

  parser.reset();
  in = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n4\r\n";
  ASSERT_EQ(parser.feed(in), Status::kHeadComplete);
  ASSERT_TRUE(parser.restrict_body(8, nullptr));
  EXPECT_EQ(parser.feed(in), Status::kError);
  EXPECT_EQ(parser.error_status(), 413);

  parser.reset();
  in = "POST /up HTTP/1.1\r\nContent-Length: 9\r\n\r\n";
  ASSERT_EQ(parser.feed(in), Status::kHeadComplete);
  EXPECT_FALSE(parser.restrict_body(8, nullptr));
  EXPECT_EQ(parser.error_status(), 413);
}

TEST(RequestParser, LeavesPipelinedBytesForTheNextRequest) {
  RequestParser parser;
  std::string_view in = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  EXPECT_EQ(parser.feed(in), Status::kHeadComplete);
  EXPECT_EQ(parser.feed(in), Status::kComplete);
  EXPECT_EQ(parser.request().request.path, "/a");
  parser.reset();
  EXPECT_EQ(parser.feed(in), Status::kHeadComplete);
  EXPECT_EQ(parser.feed(in), Status::kComplete);
  EXPECT_EQ(parser.request().request.path, "/b");
  EXPECT_TRUE(in.empty());
}

TEST(RequestParser, KeepAliveFollowsTheVersionAndConnectionHeader) {
  struct Case {
    const char* wire;
    bool keep_alive;
  };
  for (const Case& c : {Case{"GET / HTTP/1.1\r\n\r\n", true},
                        Case{"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
                        Case{"GET / HTTP/1.0\r\n\r\n", false},
                        Case{"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true}}) {
    RequestParser parser;
    ASSERT_EQ(feed_all(parser, c.wire), Status::kComplete) << c.wire;
    EXPECT_EQ(parser.request().keep_alive, c.keep_alive) << c.wire;
  }
}

TEST(RequestParser, AcceptsBareLineFeedsAndAbsoluteTargets) {
  RequestParser parser;
  ASSERT_EQ(feed_all(parser, "\r\nGET http://example.com/health?x=1 HTTP/1.1\nHost: a\n\n"),
            Status::kComplete);
  EXPECT_EQ(parser.request().request.path, "/health");
  EXPECT_EQ(parser.request().request.query_param("x"), "1");
}

struct Refusal {
  const char* name;
  std::string wire;
  int status;
};

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

class RequestParserRefuses : public testing::TestWithParam<Refusal> {};

TEST_P(RequestParserRefuses, WithTheRightStatus) {
  RequestParser parser(
      ParserLimits{.max_head_bytes = 1024, .max_header_fields = 8, .max_body_bytes = 100});
  EXPECT_EQ(feed_all(parser, GetParam().wire), Status::kError);
  EXPECT_EQ(parser.error_status(), GetParam().status) << parser.error_message();
  EXPECT_FALSE(parser.error_message().empty());
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, RequestParserRefuses,
    testing::Values(
        Refusal{"NoVersion", "GET /\r\n\r\n", 400},
        Refusal{"BadVersion", "GET / HTTX/1.1\r\n\r\n", 400},
        Refusal{"Http2", "GET / HTTP/2.0\r\n\r\n", 505},
        Refusal{"ExtraSpace", "GET  / HTTP/1.1\r\n\r\n", 400},
        Refusal{"BadMethod", "G(T / HTTP/1.1\r\n\r\n", 400},
        Refusal{"RelativeTarget", "GET foo HTTP/1.1\r\n\r\n", 400},
        Refusal{"ControlInTarget", std::string("GET /a\x01 HTTP/1.1\r\n\r\n"), 400},
        Refusal{"BadEscape", "GET /a%zz HTTP/1.1\r\n\r\n", 400},
        Refusal{"NulEscape", "GET /a%00 HTTP/1.1\r\n\r\n", 400},
        Refusal{"NoColon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400},
        Refusal{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        Refusal{"Folded", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400},
        Refusal{"ControlInValue", std::string("GET / HTTP/1.1\r\nX: a\x01\r\n\r\n"), 400},
        Refusal{"HeadTooLarge", "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", 431},
        Refusal{"NeverEndingHead", "GET / HTTP/1.1\r\nX: " + std::string(2000, 'a'), 431},
        Refusal{"TooManyFields", "GET / HTTP/1.1\r\n" + repeat("A: b\r\n", 9) + "\r\n", 431},
        Refusal{"LengthNotANumber", "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400},
        Refusal{"NegativeLength", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        Refusal{"ConflictingLengths",
                "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
        Refusal{"LengthAndChunked",
                "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        Refusal{"GzipCoding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
        Refusal{"ChunkedTwice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
                501},
        Refusal{"ChunkedOnHttp10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        Refusal{"BodyTooLarge", "POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n", 413},
        Refusal{"ChunksTooLarge",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" +
                    std::string(64, 'a') + "\r\n40\r\n",
                413},
        Refusal{"BadChunkSize", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        Refusal{"HugeChunkSize",
                "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", 400},
        Refusal{"ChunkOverrun", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
                400},
        Refusal{"UnknownExpect", "POST / HTTP/1.1\r\nExpect: magic\r\n\r\n", 417}),
    [](const testing::TestParamInfo<Refusal>& info) { return info.param.name; });

TEST(PercentDecode, DecodesAndRefusesMalformedEscapes) {
  std::string out;
  EXPECT_TRUE(percent_decode("a%2Fb+c", out, false));
  EXPECT_EQ(out, "a/b+c");
  EXPECT_TRUE(percent_decode("a+c", out, true));
  EXPECT_EQ(out, "a c");
  EXPECT_FALSE(percent_decode("%", out, false));
  EXPECT_FALSE(percent_decode("%4", out, false));
  EXPECT_FALSE(percent_decode("%g0", out, false));
}

}  // namespace
}  // namespace hearth::http
