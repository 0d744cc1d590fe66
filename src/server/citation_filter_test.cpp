// The streaming citation filter gives the same text however the reply is split, and removes
// exactly the brackets the whole-text check removes.
#include <gtest/gtest.h>

#include "rag/answer.h"
#include "server/rag_service.h"

namespace hearth::server {
namespace {

// Feeds `text` in pieces of `step` bytes (0: one piece) and returns everything sent.
std::string stream(const std::string& text, size_t step, int n_sources) {
  CitationFilter filter([n_sources](const std::string& bracket) {
    return rag::check_citations(bracket, n_sources).text;
  });
  std::string out;
  if (step == 0) {
    out = filter.feed(text);
  } else {
    for (size_t i = 0; i < text.size(); i += step) out += filter.feed(text.substr(i, step));
  }
  return out + filter.finish();
}

TEST(RagCitationFilter, SameTextForEverySplit) {
  const std::string text =
      "Keys rotate monthly [1], not yearly[9]. See [1, 7] and [2][3]; arrays like a[i] and "
      "[ ] and [[2]] stay; an open [12 at the end";
  const std::string whole = stream(text, 0, 2);
  EXPECT_EQ(whole,
            "Keys rotate monthly [1], not yearly. See [1] and [2]; arrays like a[i] and [ ] and "
            "[[2]] stay; an open [12 at the end");
  for (size_t step = 1; step <= 7; ++step) EXPECT_EQ(stream(text, step, 2), whole) << step;
}

TEST(RagCitationFilter, MatchesTheWholeTextCheckWithoutSpaces) {
  // The whole-text check also drops the space before a removed bracket; the stream cannot
  // take back a space it sent, so compare on text where removed brackets follow no space.
  const std::string text = "a[1]b[4]c[2, 5]d[x]e[3";
  EXPECT_EQ(stream(text, 1, 3), rag::check_citations(text, 3).text);
}

TEST(RagCitationFilter, LongBracketsAreNotHeldForever) {
  const std::string digits = "[" + std::string(40, '1');
  CitationFilter filter([](const std::string&) { return std::string("X"); });
  const std::string sent = filter.feed(digits);
  EXPECT_FALSE(sent.empty());  // released after 32 bytes
  EXPECT_EQ(sent + filter.finish(), digits);
}

}  // namespace
}  // namespace hearth::server
