// Internal state shared by the tokenizer's parts. Not part of the public API.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/tokenizer/pretokenize.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth::tokenizer_detail {

// Transparent hashing so string_view lookups do not allocate.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

struct TokenData {
  std::string text;
  float score = 0.0f;
  TokenType type = TokenType::kNormal;
  // Whitespace next to this token in the text is swallowed when it is matched as a special
  // token (Phi-3's chat markers; the reference sets these by model name, GGUF has no field).
  bool strip_left = false;
  bool strip_right = false;
};

struct Model {
  VocabType type = VocabType::kSentencePiece;
  std::string pre_name = "default";
  std::string model_name;  // general.name, lower-cased

  std::vector<TokenData> tokens;
  TokenMap token_to_id;  // on duplicate texts the later id wins, as in the reference

  // Byte-level BPE: rank of merging (left id, right id); lower merges first.
  std::unordered_map<uint64_t, int32_t> merge_ranks;
  // Byte-level BPE: a word that is a token as a whole is not split (Llama-3 behaviour).
  bool ignore_merges = false;
  std::unique_ptr<PreTokenizer> pre_tokenizer;

  // SentencePiece: id of <0xXX> for each byte, -1 where missing.
  int32_t byte_tokens[256];

  // WordPiece: longest token in bytes, bounding the greedy search.
  size_t max_token_bytes = 0;
  // WordPiece: lower-case and strip accents (BERT "uncased"). GGUF has no flag for it, so it
  // is read off the vocabulary: an uncased one has no upper-case letters in its words.
  bool wordpiece_uncased = true;

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1, sep = -1, cls = -1, mask = -1;
  bool add_bos = false;
  bool add_eos = false;
  bool add_sep = false;  // WordPiece: SEP after the text
  bool add_space_prefix = false;
  // Read for completeness; the reference ignores it (no Llama-family vocabulary sets it), so
  // encoding does too.
  bool remove_extra_whitespaces = false;

  std::vector<int32_t> end_of_generation_ids;  // sorted
  // Tokens matched in raw text before the model runs (control, user-defined, unknown),
  // longest text first.
  std::vector<int32_t> special_tokens_by_length;

  int32_t n_vocab() const { return static_cast<int32_t>(tokens.size()); }
  bool valid(int32_t id) const { return id >= 0 && id < n_vocab(); }
  int32_t find(std::string_view text) const {
    auto it = token_to_id.find(text);
    return it == token_to_id.end() ? -1 : it->second;
  }
};

// A piece of input after special-token matching: either raw text or one token.
struct Fragment {
  int32_t token = -1;     // >= 0: a special token
  std::string_view text;  // raw text when token < 0
};

// special.cpp
std::vector<Fragment> split_special_tokens(const Model& model, std::string_view text,
                                           bool parse_special);
// spm.cpp
void encode_spm(const Model& model, std::string_view text, std::vector<int32_t>& out);
// bpe.cpp
void encode_bpe(const Model& model, std::string_view text, std::vector<int32_t>& out);
// wordpiece.cpp
void encode_wordpiece(const Model& model, std::string_view text, std::vector<int32_t>& out);

// vocab.cpp
Result<std::shared_ptr<Model>> load_model(const gguf::File& file);

}  // namespace hearth::tokenizer_detail
