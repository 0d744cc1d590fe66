// Cutting special tokens out of raw text before the model-specific tokenizer runs.
#include <string>

#include "engine/tokenizer/model.h"

namespace hearth::tokenizer_detail {

namespace {

// The reference trims with C isspace: ASCII whitespace only.
bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace

std::vector<Fragment> split_special_tokens(const Model& model, std::string_view text,
                                           bool parse_special) {
  std::vector<Fragment> fragments;
  if (!text.empty()) fragments.push_back(Fragment{-1, text});

  // Token by token, longest first, every raw stretch is cut at each occurrence. Taking the
  // longest tokens first makes "<|im_start|>" win over a shorter token inside it.
  for (int32_t id : model.special_tokens_by_length) {
    const TokenData& token = model.tokens[id];
    // Without parse_special only user-defined tokens are matched (added tokens such as
    // MPT's space runs are part of how the text is written, not markup).
    if (!parse_special && token.type != TokenType::kUserDefined) continue;
    const std::string_view needle = token.text;
    if (needle.empty()) continue;

    std::vector<Fragment> next;
    next.reserve(fragments.size());
    for (const Fragment& fragment : fragments) {
      if (fragment.token >= 0) {
        next.push_back(fragment);
        continue;
      }
      std::string_view rest = fragment.text;
      size_t found = rest.find(needle);
      if (found == std::string_view::npos) {
        next.push_back(fragment);
        continue;
      }
      bool strip_next_left = false;
      while (found != std::string_view::npos) {
        std::string_view left = rest.substr(0, found);
        if (strip_next_left) {
          while (!left.empty() && is_ascii_space(left.front())) left.remove_prefix(1);
        }
        if (token.strip_left) {
          while (!left.empty() && is_ascii_space(left.back())) left.remove_suffix(1);
        }
        if (!left.empty()) next.push_back(Fragment{-1, left});
        next.push_back(Fragment{id, {}});
        rest.remove_prefix(found + needle.size());
        strip_next_left = token.strip_right;
        found = rest.find(needle);
      }
      if (strip_next_left) {
        while (!rest.empty() && is_ascii_space(rest.front())) rest.remove_prefix(1);
      }
      if (!rest.empty()) next.push_back(Fragment{-1, rest});
    }
    fragments = std::move(next);
  }
  return fragments;
}

}  // namespace hearth::tokenizer_detail
