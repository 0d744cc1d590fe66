// Grounded prompts within a token budget, and the citation check.
#include "rag/answer.h"

#include <gtest/gtest.h>

namespace hearth::rag {
namespace {

Hit hit(const std::string& quote) {
  Hit h;
  h.path = "/docs/" + quote + ".md";
  h.quote = quote;
  return h;
}

// One token per byte: the budget arithmetic is easy to follow.
Result<std::vector<int32_t>> bytes_as_tokens(const std::string& system, const std::string& user) {
  return std::vector<int32_t>(system.size() + user.size(), 1);
}

TEST(RagAnswer, DropsLowestRankedSourcesToFitAndNeverTheQuestion) {
  const std::vector<Hit> hits = {hit(std::string(100, 'a')), hit(std::string(100, 'b')),
                                 hit(std::string(100, 'c'))};
  const size_t all =
      bytes_as_tokens(grounded_system_message(), grounded_user_message("q?", hits))->size();
  auto full = build_grounded_prompt("q?", hits, static_cast<int>(all), bytes_as_tokens);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->sources.size(), 3u);
  EXPECT_TRUE(full->dropped.empty());
  auto tight = build_grounded_prompt("q?", hits, static_cast<int>(all) - 1, bytes_as_tokens);
  ASSERT_TRUE(tight);
  ASSERT_EQ(tight->sources.size(), 2u);
  ASSERT_EQ(tight->dropped.size(), 1u);
  EXPECT_EQ(tight->dropped[0].quote[0], 'c');  // the lowest ranked goes first
  EXPECT_LE(tight->tokens.size(), all - 1);
  auto none = build_grounded_prompt("q?", hits, 10, bytes_as_tokens);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(none.error().message.find("more than the 10"), std::string::npos)
      << none.error().message;
}

TEST(RagAnswer, UserMessageNumbersSourcesAndEndsWithTheQuestion) {
  Hit h = hit("rotate keys");
  h.page = 3;
  const std::string msg = grounded_user_message("How?", {h, hit("other")});
  EXPECT_NE(msg.find("[1] (/docs/rotate keys.md, page 3)\nrotate keys"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2] (/docs/other.md)\nother"), std::string::npos) << msg;
  EXPECT_TRUE(msg.ends_with("Question: How?"));
}

TEST(RagAnswer, RemovesCitationsOfSourcesThatWereNotSupplied) {
  auto a = check_citations("Rotate weekly [1]. Use the vault [3]. Both [2, 7]. See [x] and [].", 2);
  EXPECT_EQ(a.text, "Rotate weekly [1]. Use the vault. Both [2]. See [x] and [].");
  EXPECT_EQ(a.removed, 2);
  EXPECT_EQ(a.cited, (std::vector<int>{1, 2}));
  auto b = check_citations("no sources [1][1]", 0);
  EXPECT_EQ(b.text, "no sources");
  EXPECT_EQ(b.removed, 2);
  EXPECT_TRUE(b.cited.empty());
  EXPECT_EQ(check_citations("unterminated [12", 20).text, "unterminated [12");
}

}  // namespace
}  // namespace hearth::rag
