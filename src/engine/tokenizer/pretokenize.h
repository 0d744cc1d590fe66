// Regex pre-tokenizers of byte-level BPE vocabularies, selected by `tokenizer.ggml.pre`.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "hearth/status.h"

struct pcre2_real_code_8;

namespace hearth::tokenizer_detail {

struct PreTokenizerSpec {
  std::vector<std::string_view> patterns;  // applied in turn, each splitting the pieces further
  bool ignore_merges = false;              // a word that is a token as a whole stays whole
  bool add_bos = false;                    // BOS by default when the metadata does not say
};

// An Error for an unknown name: tokenizing with the wrong rules would silently give
// other ids than the model was trained on, so loading refuses instead.
Result<PreTokenizerSpec> pre_tokenizer_spec(std::string_view pre_name);
std::vector<std::string_view> supported_pre_tokenizers();

// Compiled once (with JIT when available) and then only read, so one instance may split texts
// on many threads at once; match data is allocated per call.
class PreTokenizer {
 public:
  static Result<std::unique_ptr<PreTokenizer>> compile(const PreTokenizerSpec& spec);
  ~PreTokenizer();
  PreTokenizer(const PreTokenizer&) = delete;
  PreTokenizer& operator=(const PreTokenizer&) = delete;

  // Splits well-formed UTF-8 into words. Each pattern cuts every current piece into its
  // matches and the stretches between them, which stay pieces of their own; patterns see one
  // piece at a time, so anchors and lookaheads stop at piece boundaries.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  PreTokenizer() = default;
  std::vector<pcre2_real_code_8*> patterns_;
#if defined(HEARTH_NO_PCRE2)
  std::vector<int> builtin_;  // pretokenize_builtin.h matchers, one per pattern
#endif
};

}  // namespace hearth::tokenizer_detail
