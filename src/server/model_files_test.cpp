// The Range header of GET /v1/models/{id}/file (RFC 9110 14.2): what is served, what is a
// 416, and what is ignored (the whole file is sent).
#include "server/model_files.h"

#include <gtest/gtest.h>

namespace hearth::server {
namespace {

void expect_range(std::string_view header, uint64_t size, uint64_t first, uint64_t last) {
  RangeRequest r = parse_range(header, size);
  ASSERT_TRUE(r.range.has_value()) << header;
  EXPECT_FALSE(r.unsatisfiable) << header;
  EXPECT_EQ(r.range->first, first) << header;
  EXPECT_EQ(r.range->last, last) << header;
}

void expect_ignored(std::string_view header, uint64_t size) {
  RangeRequest r = parse_range(header, size);
  EXPECT_FALSE(r.range.has_value()) << header;
  EXPECT_FALSE(r.unsatisfiable) << header;
}

void expect_unsatisfiable(std::string_view header, uint64_t size) {
  RangeRequest r = parse_range(header, size);
  EXPECT_FALSE(r.range.has_value()) << header;
  EXPECT_TRUE(r.unsatisfiable) << header;
}

TEST(ParseRange, ClosedOpenAndSuffixRanges) {
  expect_range("bytes=0-99", 1000, 0, 99);
  expect_range("bytes=100-", 1000, 100, 999);
  expect_range("bytes=-10", 1000, 990, 999);
  expect_range(" bytes=5-5 ", 1000, 5, 5);
  // The end clamps to the file; a suffix longer than the file is the whole file.
  expect_range("bytes=900-5000", 1000, 900, 999);
  expect_range("bytes=-5000", 1000, 0, 999);
}

TEST(ParseRange, PastTheEndIsUnsatisfiable) {
  expect_unsatisfiable("bytes=1000-", 1000);
  expect_unsatisfiable("bytes=1000-1001", 1000);
  expect_unsatisfiable("bytes=-0", 1000);
  expect_unsatisfiable("bytes=0-", 0);
}

TEST(ParseRange, MalformedOrMultipleRangesAreIgnored) {
  expect_ignored("", 1000);
  expect_ignored("items=0-5", 1000);
  expect_ignored("bytes=abc", 1000);
  expect_ignored("bytes=5", 1000);
  expect_ignored("bytes=9-3", 1000);
  expect_ignored("bytes=-", 1000);
  expect_ignored("bytes=0-1,5-6", 1000);
  expect_ignored("bytes=18446744073709551616-", 1000);  // does not fit 64 bits
}

}  // namespace
}  // namespace hearth::server
