// Unit tests on small vocabularies built in memory: loading errors, special tokens,
// detokenization and the streaming decoder. Fixture-based golden tests live in
// tests/golden/tokenizer_vectors_test.cpp.
#include "engine/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/test_vocab.h"
#include "engine/tokenizer/unicode.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

// Owns the GGUF bytes for as long as the parsed File views them.
struct ParsedVocab {
  std::vector<uint8_t> bytes;
  Result<gguf::File> file = std::unexpected(Error{"not parsed"});
};

std::unique_ptr<ParsedVocab> parse(const gguf::Writer& writer) {
  auto parsed = std::make_unique<ParsedVocab>();
  parsed->bytes = writer.to_bytes();
  parsed->file = gguf::File::parse(parsed->bytes);
  return parsed;
}

Result<Tokenizer> tokenizer_from(const gguf::Writer& writer) {
  auto parsed = parse(writer);
  if (!parsed->file) return std::unexpected(parsed->file.error());
  return Tokenizer::from_gguf(*parsed->file);  // the File dies right after: nothing may dangle
}

gguf::Writer spm_writer() {
  return tokenizer_detail::test_vocab::sentencepiece();
}

gguf::Writer bpe_writer(std::vector<std::string> merges = {"h e", "l l"}) {
  return tokenizer_detail::test_vocab::byte_level_bpe(std::move(merges));
}

int32_t byte_id(uint8_t byte) {
  return 3 + byte;
}  // in spm_writer's vocabulary

TEST(TokenizerUnit, SentencePieceMergesByScoreAndFallsBackToBytes) {
  auto tokenizer = tokenizer_from(spm_writer());
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  const int32_t hello = tokenizer->find_token("\xE2\x96\x81hello");
  ASSERT_GE(hello, 0);
  EXPECT_EQ(tokenizer->encode("hello", false, false), std::vector<int32_t>{hello});
  EXPECT_EQ(tokenizer->encode("hello", true, false), (std::vector<int32_t>{1, hello}));
  // "x" is not in the vocabulary: its byte token stands in.
  EXPECT_EQ(tokenizer->encode("hellox", false, false), (std::vector<int32_t>{hello, byte_id('x')}));
  EXPECT_EQ(tokenizer->encode("", true, false), std::vector<int32_t>{1});
  EXPECT_TRUE(tokenizer->encode("", false, false).empty());
  EXPECT_EQ(tokenizer->decode(tokenizer->encode("hello x", true, false)), "hello x");
}

TEST(TokenizerUnit, SpecialTokensOnlyWhenParsed) {
  auto tokenizer = tokenizer_from(spm_writer());
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  const int32_t user = tokenizer->find_token("<|user|>");
  const int32_t hello = tokenizer->find_token("\xE2\x96\x81hello");
  EXPECT_EQ(tokenizer->encode("<|user|>hello", false, true), (std::vector<int32_t>{user, hello}));
  const auto raw = tokenizer->encode("<|user|>hello", false, false);
  EXPECT_EQ(std::count(raw.begin(), raw.end(), user), 0);
  EXPECT_EQ(tokenizer->token_to_piece(user), "");
  EXPECT_EQ(tokenizer->token_to_piece(user, true), "<|user|>");
  const std::vector<int32_t> ids = {user, hello};
  EXPECT_EQ(tokenizer->decode(ids, true), "<|user|>hello");
}

TEST(TokenizerUnit, StreamingDecoderHoldsSplitCharacters) {
  auto tokenizer = tokenizer_from(spm_writer());
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  // U+1F642 has no token: four byte tokens carry it.
  const std::string emoji = "\xF0\x9F\x99\x82";
  const std::vector<int32_t> ids = tokenizer->encode(emoji + emoji, false, false);
  ASSERT_EQ(ids.size(), 9u);  // prefix space + 2 x 4 bytes
  StreamingDecoder decoder(*tokenizer);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string out = decoder.push(id);
    size_t pos = 0;
    while (pos < out.size()) {
      ASSERT_TRUE(tokenizer_detail::decode_utf8(out, pos)) << "invalid UTF-8 emitted";
    }
    streamed += out;
  }
  streamed += decoder.finish();
  EXPECT_EQ(streamed, " " + emoji + emoji);
}

TEST(TokenizerUnit, StreamingDecoderReplacesHopelessBytes) {
  auto tokenizer = tokenizer_from(spm_writer());
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  StreamingDecoder decoder(*tokenizer);
  // A stray continuation byte can never start a character: replaced at once.
  EXPECT_EQ(decoder.push(byte_id(0x80)), "\xEF\xBF\xBD");
  // A lead byte followed by a non-continuation: the lead is replaced, the 'A' kept.
  EXPECT_EQ(decoder.push(byte_id(0xE2)), "");
  EXPECT_EQ(decoder.push(byte_id('A')),
            "\xEF\xBF\xBD"
            "A");
  // An unfinished character at the end comes out as U+FFFD.
  EXPECT_EQ(decoder.push(byte_id(0xF0)), "");
  EXPECT_EQ(decoder.push(byte_id(0x9F)), "");
  EXPECT_EQ(decoder.finish(), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(decoder.finish(), "");
}

TEST(TokenizerUnit, ByteLevelBpeRoundTripsAnyBytes) {
  auto tokenizer = tokenizer_from(bpe_writer());
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  const int32_t he = tokenizer->find_token("he");
  const int32_t ll = tokenizer->find_token("ll");
  const int32_t o = tokenizer->find_token("o");
  EXPECT_EQ(tokenizer->encode("hello", false, false), (std::vector<int32_t>{he, ll, o}));
  const std::string text = "caf\xC3\xA9 \xF0\x9F\x99\x82\n\t x";
  EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, true, true)), text);
  EXPECT_TRUE(tokenizer->is_end_of_generation(tokenizer->find_token("<|im_end|>")));
  EXPECT_FALSE(tokenizer->is_end_of_generation(he));
  EXPECT_EQ(tokenizer->bos_id(), -1);
}

TEST(TokenizerUnit, EveryPreTokenizerCompilesAndRoundTrips) {
  const std::string text =
      "Hello, y'all! I'VE 12345 caf\xC3\xA9  \t\n\n \xE6\x97\xA5\xE6\x9C\xAC "
      "\xF0\x9F\x99\x82 ...!!! \xD0\x9F\xD1\x80\xD0\xB8 end   ";
  const auto names = tokenizer_detail::supported_pre_tokenizers();
  EXPECT_GE(names.size(), 40u);
  for (std::string_view name : names) {
    auto tokenizer =
        tokenizer_from(tokenizer_detail::test_vocab::byte_level_bpe({"h e"}, std::string(name)));
    ASSERT_TRUE(tokenizer) << name << ": " << tokenizer.error().message;
    EXPECT_EQ(tokenizer->pre_tokenizer(), name);
    EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, false, false)), text) << name;
  }
}

TEST(TokenizerUnit, InvalidUtf8NeverCrashes) {
  const std::string garbage = std::string("a\xFF\xC3(\xE2\x82\xF0\x9F\x99 \x80") + "\xED\xA0\x80";
  auto spm = tokenizer_from(spm_writer());
  auto bpe = tokenizer_from(bpe_writer());
  ASSERT_TRUE(spm && bpe);
  // SentencePiece keeps the raw bytes through byte fallback, so they survive.
  EXPECT_EQ(spm->decode(spm->encode(garbage, false, false)), garbage);
  // Byte-level BPE sees U+FFFD for each invalid byte.
  const std::string decoded = bpe->decode(bpe->encode(garbage, false, false));
  EXPECT_EQ(decoded, tokenizer_detail::sanitize_utf8(garbage));
}

TEST(TokenizerUnit, MalformedMetadataIsAnError) {
  {
    gguf::Writer writer;
    writer.set_string("tokenizer.ggml.model", "llama");
    auto tokenizer = tokenizer_from(writer);
    ASSERT_FALSE(tokenizer);
    EXPECT_NE(tokenizer.error().message.find("tokenizer.ggml.tokens"), std::string::npos);
  }
  {
    auto writer = bpe_writer({"h e", "q zz"});
    auto tokenizer = tokenizer_from(writer);
    ASSERT_FALSE(tokenizer);
    EXPECT_NE(tokenizer.error().message.find("q zz"), std::string::npos);
  }
  {
    auto writer = bpe_writer({"h e", "e l"});  // "el" is not a token
    EXPECT_FALSE(tokenizer_from(writer));
  }
  {
    auto writer = bpe_writer({"he"});  // no separator
    EXPECT_FALSE(tokenizer_from(writer));
  }
  {
    auto writer = spm_writer();
    const std::vector<float> short_scores = {0.0f, 1.0f};
    writer.set_f32_array("tokenizer.ggml.scores", short_scores);
    auto tokenizer = tokenizer_from(writer);
    ASSERT_FALSE(tokenizer);
    EXPECT_NE(tokenizer.error().message.find("scores"), std::string::npos);
  }
  {
    auto writer = spm_writer();
    const std::vector<int32_t> types = {1, 1, 1};
    writer.set_i32_array("tokenizer.ggml.token_type", types);
    EXPECT_FALSE(tokenizer_from(writer));
  }
  {
    auto writer = spm_writer();
    writer.set_string("tokenizer.ggml.model", "unigram-from-the-future");
    EXPECT_FALSE(tokenizer_from(writer));
  }
  {
    auto writer = bpe_writer();
    writer.set_string("tokenizer.ggml.pre", "no-such-pre-tokenizer");
    EXPECT_FALSE(tokenizer_from(writer));
  }
  {
    gguf::Writer writer = bpe_writer();
    writer.set_u32("tokenizer.ggml.merges", 3);  // wrong type
    EXPECT_FALSE(tokenizer_from(writer));
  }
  {
    gguf::Writer writer;
    writer.set_string("tokenizer.ggml.model", "llama");
    writer.set_u32("tokenizer.ggml.tokens", 12);  // wrong type
    EXPECT_FALSE(tokenizer_from(writer));
  }
}

TEST(TokenizerUnit, WordPieceSplitsPunctuationAndNormalizes) {
  auto tokenizer = tokenizer_from(tokenizer_detail::test_vocab::wordpiece());
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  // Upper case and accents fold away; "," is a word of its own; "hellos" is "hello" + "s";
  // "xyz" cannot be spelled and becomes one [UNK].
  EXPECT_EQ(tokenizer->encode("HELLO, Caf\xC3\xA9 hellos xyz", true, false),
            (std::vector<int32_t>{2, 5, 8, 9, 5, 10, 1, 3}));
  EXPECT_EQ(tokenizer->encode("hello", false, false), std::vector<int32_t>{5});
  EXPECT_EQ(tokenizer->encode("", true, false), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(tokenizer->bos_id(), 2);
  EXPECT_EQ(tokenizer->eos_id(), 3);
}

TEST(TokenizerUnit, CasedWordPieceKeepsCaseAndAccents) {
  auto tokenizer = tokenizer_from(tokenizer_detail::test_vocab::wordpiece(/*cased=*/true));
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  const int32_t capital_hello = tokenizer->find_token("\xE2\x96\x81Hello");
  EXPECT_EQ(tokenizer->encode("Hello hello Caf\xC3\xA9", false, false),
            (std::vector<int32_t>{capital_hello, 5, 1}));
}

TEST(TokenizerUnit, OutOfRangeIdsAreHarmless) {
  auto tokenizer = tokenizer_from(spm_writer());
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  EXPECT_EQ(tokenizer->token_to_piece(-1), "");
  EXPECT_EQ(tokenizer->token_to_piece(tokenizer->n_vocab()), "");
  EXPECT_EQ(tokenizer->token_text(1 << 30), "");
  const std::vector<int32_t> ids = {-5, 1 << 30};
  EXPECT_EQ(tokenizer->decode(ids), "");
  EXPECT_FALSE(tokenizer->is_end_of_generation(-1));
}

TEST(TokenizerUnit, ConcurrentEncodingAgrees) {
  const auto path = testing::fixtures_dir() / "models" / "tiny-qwen2-q8_0.gguf";
  auto file = gguf::File::open(path);
  if (!file) GTEST_SKIP() << "fixture missing: " << file.error().message;
  auto tokenizer = Tokenizer::from_gguf(*file);
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  std::vector<std::string> texts;
  for (int i = 0; i < 64; ++i) {
    texts.push_back("<|im_start|>user\nText number " + std::to_string(i * 7919) +
                    " with   spaces, caf\xC3\xA9 and \xF0\x9F\x99\x82<|im_end|>\n");
  }
  std::vector<std::vector<int32_t>> expected;
  for (const auto& text : texts) expected.push_back(tokenizer->encode(text, true, true));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          if (tokenizer->encode(texts[i], true, true) != expected[i]) ++mismatches[t];
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int count : mismatches) EXPECT_EQ(count, 0);
  EXPECT_TRUE(tokenizer->is_end_of_generation(tokenizer->find_token("<|im_end|>")));
  EXPECT_TRUE(tokenizer->is_end_of_generation(tokenizer->find_token("<|endoftext|>")));
}

TEST(TokenizerUnit, LongInputsSplitWithoutTrouble) {
  auto tokenizer = tokenizer_from(bpe_writer());
  ASSERT_TRUE(tokenizer) << tokenizer.error().message;
  // Long runs of one class stress backtracking patterns such as \s+(?!\S).
  const std::string spaces(200000, ' ');
  const std::string text = spaces + "x" + spaces + std::string(100000, '\n');
  EXPECT_EQ(tokenizer->decode(tokenizer->encode(text, false, false)), text);
}

}  // namespace
}  // namespace hearth
