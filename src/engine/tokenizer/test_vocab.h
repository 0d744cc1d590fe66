// Small vocabularies built in memory, for unit tests and fuzzing (not used by the engine).
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/unicode.h"

namespace hearth::tokenizer_detail::test_vocab {

// SentencePiece: <unk> <s> </s>, the 256 byte tokens (ids 3..258), a few pieces spelling
// "hello", and a control token <|user|>.
inline gguf::Writer sentencepiece() {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    tokens.push_back(name);
    types.push_back(6);
  }
  const std::vector<std::pair<std::string, float>> pieces = {{"\xE2\x96\x81", -1.0f},
                                                             {"h", -2.0f},
                                                             {"e", -2.0f},
                                                             {"l", -2.0f},
                                                             {"o", -2.0f},
                                                             {"\xE2\x96\x81h", -1.5f},
                                                             {"he", -1.2f},
                                                             {"ll", -1.1f},
                                                             {"\xE2\x96\x81he", -0.5f},
                                                             {"llo", -0.7f},
                                                             {"\xE2\x96\x81hello", -0.1f}};
  std::vector<float> scores(tokens.size(), 0.0f);
  for (const auto& [text, score] : pieces) {
    tokens.push_back(text);
    types.push_back(1);
    scores.push_back(score);
  }
  tokens.push_back("<|user|>");
  types.push_back(3);
  scores.push_back(0.0f);
  gguf::Writer writer;
  writer.set_string("general.architecture", "llama");
  writer.set_string("tokenizer.ggml.model", "llama");
  writer.set_string_array("tokenizer.ggml.tokens", tokens);
  writer.set_f32_array("tokenizer.ggml.scores", scores);
  writer.set_i32_array("tokenizer.ggml.token_type", types);
  writer.set_u32("tokenizer.ggml.bos_token_id", 1);
  writer.set_u32("tokenizer.ggml.eos_token_id", 2);
  return writer;
}

// Byte-level BPE: the 256 byte characters, "he" and "ll" with their merges (or the given
// ones), and a control token <|im_end|> that is also EOS.
inline gguf::Writer byte_level_bpe(std::vector<std::string> merges = {"h e", "l l"},
                                   std::string pre = "qwen2") {
  std::vector<std::string> tokens;
  for (int byte = 0; byte < 256; ++byte) {
    std::string text;
    append_utf8(text, byte_to_unicode(static_cast<uint8_t>(byte)));
    tokens.push_back(text);
  }
  tokens.push_back("he");
  tokens.push_back("ll");
  tokens.push_back("<|im_end|>");
  std::vector<int32_t> types(tokens.size(), 1);
  types.back() = 3;
  gguf::Writer writer;
  writer.set_string("tokenizer.ggml.model", "gpt2");
  writer.set_string("tokenizer.ggml.pre", pre);
  writer.set_string_array("tokenizer.ggml.tokens", tokens);
  writer.set_i32_array("tokenizer.ggml.token_type", types);
  writer.set_string_array("tokenizer.ggml.merges", merges);
  writer.set_u32("tokenizer.ggml.eos_token_id", static_cast<uint32_t>(tokens.size() - 1));
  return writer;
}

// WordPiece in the GGUF convention: word starts carry U+2581, continuations are bare.
// `cased` adds a word with capitals, which makes the vocabulary a cased one.
inline gguf::Writer wordpiece(bool cased = false) {
  std::vector<std::string> tokens = {"[PAD]",
                                     "[UNK]",
                                     "[CLS]",
                                     "[SEP]",
                                     "[MASK]",
                                     "\xE2\x96\x81hello",
                                     "\xE2\x96\x81he",
                                     "llo",
                                     "\xE2\x96\x81,",
                                     "\xE2\x96\x81"
                                     "cafe",
                                     "s"};
  std::vector<int32_t> types = {3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1};
  if (cased) {
    tokens.push_back("\xE2\x96\x81Hello");
    types.push_back(1);
  }
  gguf::Writer writer;
  writer.set_string("tokenizer.ggml.model", "bert");
  writer.set_string_array("tokenizer.ggml.tokens", tokens);
  writer.set_i32_array("tokenizer.ggml.token_type", types);
  writer.set_u32("tokenizer.ggml.unknown_token_id", 1);
  writer.set_u32("tokenizer.ggml.cls_token_id", 2);
  writer.set_u32("tokenizer.ggml.seperator_token_id", 3);
  return writer;
}

}  // namespace hearth::tokenizer_detail::test_vocab
