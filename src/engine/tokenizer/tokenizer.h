// Text <-> token ids for the vocabularies GGUF files carry.
//
// Three model families are supported, chosen by `tokenizer.ggml.model`:
//   - "llama": SentencePiece-style BPE driven by token scores, with byte fallback (<0xXX>).
//   - "gpt2":  byte-level BPE driven by merge ranks, after a regex pre-tokenizer chosen by
//              `tokenizer.ggml.pre` (llama-bpe, qwen2, deepseek-*, falcon, starcoder, ...).
//   - "bert":  WordPiece (greedy longest match) after BERT's basic pre-tokenization.
// The output is meant to be identical, id for id, to the reference implementation of the GGUF
// ecosystem (llama.cpp), which in turn mirrors the Hugging Face tokenizers.
//
// A Tokenizer is immutable after `from_gguf` and cheap to copy (it shares its tables); every
// const method may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/status.h"

namespace hearth {

namespace gguf {
class File;
}

namespace tokenizer_detail {
struct Model;
}

enum class VocabType { kSentencePiece, kBytePairEncoding, kWordPiece };

// Token types as numbered in `tokenizer.ggml.token_type`.
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

class Tokenizer {
 public:
  // Copies everything it needs out of `file`; the File may be closed afterwards.
  static Result<Tokenizer> from_gguf(const gguf::File& file);

  // `add_special`: add BOS/EOS (or CLS/SEP) as the vocabulary's metadata asks.
  // `parse_special`: control tokens written in the text (e.g. "<|im_start|>") become single
  // tokens. User-defined tokens are always matched, as the reference does.
  // Invalid UTF-8 never fails: SentencePiece keeps the raw bytes (byte fallback), the other
  // families see U+FFFD in their place.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // The bytes a token stands for. Control and unknown tokens give their text only when
  // `render_special` is set; byte tokens give their byte, which may be part of a UTF-8
  // character, so a piece is not necessarily valid UTF-8 on its own.
  std::string token_to_piece(int32_t id, bool render_special = false) const;
  // Concatenated pieces, with the leading space SentencePiece's prefix rule added removed, so
  // that decode(encode(text)) == text for any text the vocabulary can represent.
  std::string decode(std::span<const int32_t> ids, bool render_special = false) const;

  int32_t n_vocab() const;
  int32_t bos_id() const;      // -1 if none
  int32_t eos_id() const;      // -1 if none
  int32_t eot_id() const;      // -1 if none
  int32_t unknown_id() const;  // -1 if none
  int32_t padding_id() const;  // -1 if none
  bool add_bos() const;
  bool add_eos() const;
  VocabType type() const;
  std::string_view pre_tokenizer() const;  // `tokenizer.ggml.pre`, "default" when absent

  // End of generation: eos, eot, eom and tokens such as <|im_end|>, <|end|>, <|endoftext|>.
  bool is_end_of_generation(int32_t id) const;
  // Raw vocabulary text ("" for an id out of range).
  std::string_view token_text(int32_t id) const;
  TokenType token_type(int32_t id) const;  // kUndefined for an id out of range
  // Control, unknown, user-defined or unused: tokens a chat template may write literally.
  bool is_special(int32_t id) const;
  // Id of a token by its exact vocabulary text, or -1.
  int32_t find_token(std::string_view text) const;

 private:
  explicit Tokenizer(std::shared_ptr<const tokenizer_detail::Model> model);
  std::shared_ptr<const tokenizer_detail::Model> model_;
};

// Turns a stream of token ids into text that is always valid UTF-8: a character whose bytes
// arrive spread over several tokens (byte fallback, byte-level BPE) is held back until it is
// complete. Bytes that can never form a character come out as U+FFFD. Pieces are rendered as
// `token_to_piece(id, render_special)` does; the SentencePiece leading space is kept, since a
// stream usually continues a prompt. Not thread-safe (one decoder per stream).
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer, bool render_special = false);
  // Text completed by this token (possibly empty).
  std::string push(int32_t id);
  // Whatever is still held back, as U+FFFD (it can no longer be completed); resets.
  std::string finish();

 private:
  Tokenizer tokenizer_;  // a copy shares the tables, so the decoder never dangles
  bool render_special_;
  std::string pending_;
};

}  // namespace hearth
