// The built-in pre-tokenizer matchers (used by builds without PCRE2) against PCRE2 on the
// same expressions: random strings over characters chosen to hit every alternative and every
// class boundary (contractions in both cases, CR/LF, the other white space PCRE2's \s accepts,
// letters, numbers and marks outside ASCII, emoji) must split identically.
#include "engine/tokenizer/pretokenize_builtin.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "engine/tokenizer/pretokenize.h"

namespace hearth::tokenizer_detail {
namespace {

std::string escaped(const std::string& s) {
  std::string out;
  char buffer[8];
  for (unsigned char c : s) {
    std::snprintf(buffer, sizeof buffer, "\\x%02x", c);
    out += buffer;
  }
  return out;
}

TEST(PretokenizeBuiltin, SplitsLikePcre2) {
  const char* const alphabet[] = {
      " ",
      " ",
      "  ",
      "\n",
      "\r",
      "\t",
      "\v",
      "\f",
      "a",
      "Z",
      "\xC3\xA9",
      "\xC3\x9F",
      "\xE6\x97\xA5",
      "1",
      "23",
      "\xD9\xA3",
      "\xC2\xBD",
      "'",
      "'s",
      "'S",
      "'re",
      "'LL",
      "'ve",
      "'d",
      "'m",
      "'t",
      ".",
      ",",
      "!",
      "-",
      "(",
      "_",
      "$",
      "\xC2\xA0",          // no-break space
      "\xE3\x80\x80",      // ideographic space
      "\xC2\x85",          // NEL
      "\xE1\xA0\x8E",      // Mongolian vowel separator
      "\xE2\x80\xA8",      // line separator
      "\xE2\x80\x8B",      // zero width space (not white space)
      "\xCC\x81",          // combining acute accent
      "\xF0\x9F\x99\x82",  // emoji
  };
  const struct {
    const char* family;
    int matcher;
  } cases[] = {{"gpt-2", kBuiltinGpt2}, {"llama3", kBuiltinLlama3}, {"qwen2", kBuiltinQwen2}};
  std::mt19937 rng(7);
  for (const auto& c : cases) {
    auto spec = pre_tokenizer_spec(c.family);
    ASSERT_TRUE(spec.has_value());
    ASSERT_EQ(spec->patterns.size(), 1u);
    auto pcre = PreTokenizer::compile(*spec);
    ASSERT_TRUE(pcre.has_value()) << pcre.error().message;
    int differences = 0;
    for (int iter = 0; iter < 20000; ++iter) {
      std::string text;
      const int length = 1 + static_cast<int>(rng() % 12);
      for (int k = 0; k < length; ++k) text += alphabet[rng() % std::size(alphabet)];
      const std::vector<std::string_view> expected = (*pcre)->split(text);
      std::vector<std::string_view> got;
      builtin_split(c.matcher, text, got);
      if (got != expected && ++differences <= 5) {
        ADD_FAILURE() << c.family << ": " << escaped(text) << " splits into " << got.size()
                      << " pieces, PCRE2 " << expected.size();
      }
    }
    EXPECT_EQ(differences, 0) << c.family;
  }
}

TEST(PretokenizeBuiltin, InvalidUtf8StillCoversEveryByte) {
  const std::string text = "ab\xFF\xC3 cd\xE6\x97 12\x80\n";
  for (int matcher : {kBuiltinGpt2, kBuiltinLlama3, kBuiltinQwen2}) {
    std::vector<std::string_view> pieces;
    builtin_split(matcher, text, pieces);
    std::string joined;
    for (std::string_view piece : pieces) {
      EXPECT_FALSE(piece.empty());
      joined += piece;
    }
    EXPECT_EQ(joined, text) << matcher;
  }
}

}  // namespace
}  // namespace hearth::tokenizer_detail
