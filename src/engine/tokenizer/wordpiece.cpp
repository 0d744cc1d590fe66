// WordPiece for BERT vocabularies: BERT's basic tokenizer (clean up, lower-case, strip
// accents, split on whitespace and punctuation, isolate CJK characters), then greedy
// longest-match-first within each word.
#include <algorithm>
#include <string>

#include "engine/tokenizer/model.h"
#include "engine/tokenizer/unicode.h"

namespace hearth::tokenizer_detail {

namespace {

struct CodepointRange {
  uint32_t first;
  uint32_t last;
};
struct CodepointMapping {
  uint32_t codepoint;
  const char* normalized;  // UTF-8
};

#include "engine/tokenizer/bert_unicode_data.inc"

template <size_t N>
bool in_ranges(const CodepointRange (&ranges)[N], uint32_t cp) {
  const auto* it =
      std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                       [](uint32_t v, const CodepointRange& r) { return v < r.first; });
  return it != std::begin(ranges) && cp <= (it - 1)->last;
}

bool is_whitespace(uint32_t cp) {
  return cp == '\t' || cp == '\n' || cp == '\r' || in_ranges(kWhitespaceRanges, cp);
}

bool is_control(uint32_t cp) {
  return in_ranges(kControlRanges, cp);
}

bool is_punctuation(uint32_t cp) {
  // BERT counts every non-alphanumeric printable ASCII character as punctuation ("$", "^").
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) ||
      (cp >= 123 && cp <= 126)) {
    return true;
  }
  return in_ranges(kPunctuationRanges, cp);
}

bool is_cjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// NFD, minus non-spacing marks, lower-cased: what BERT's uncased normaliser makes of `cp`.
void append_normalized(std::string& out, uint32_t cp) {
  if (in_ranges(kDroppedMarkRanges, cp)) return;
  if (cp >= 0xAC00 && cp <= 0xD7A3) {
    // Hangul syllables decompose arithmetically into leading, vowel and trailing jamo.
    const uint32_t index = cp - 0xAC00;
    append_utf8(out, 0x1100 + index / (21 * 28));
    append_utf8(out, 0x1161 + (index % (21 * 28)) / 28);
    if (index % 28 != 0) append_utf8(out, 0x11A7 + index % 28);
    return;
  }
  const auto* it =
      std::lower_bound(std::begin(kNormalizedForms), std::end(kNormalizedForms), cp,
                       [](const CodepointMapping& m, uint32_t v) { return m.codepoint < v; });
  if (it != std::end(kNormalizedForms) && it->codepoint == cp) {
    out.append(it->normalized);
  } else {
    append_utf8(out, cp);
  }
}

std::vector<std::string> basic_tokenize(std::string_view raw, bool uncased) {
  const std::string text = sanitize_utf8(raw);
  std::vector<std::string> words;
  std::string current;
  const auto finish_word = [&] {
    if (!current.empty()) words.push_back(std::move(current));
    current.clear();
  };
  size_t pos = 0;
  while (pos < text.size()) {
    const uint32_t cp = *decode_utf8(text, pos);  // sanitized: always decodes
    if (cp == 0 || cp == kReplacementCharacter) continue;
    if (is_whitespace(cp)) {
      finish_word();
      continue;
    }
    if (is_control(cp)) continue;
    if (is_cjk(cp)) {
      finish_word();
      append_utf8(current, cp);
      finish_word();
      continue;
    }
    std::string normalized;
    if (uncased) {
      append_normalized(normalized, cp);
    } else {
      append_utf8(normalized, cp);
    }
    // Punctuation is judged after normalisation, as the pre-tokenizer sees normalised text.
    size_t inner = 0;
    while (inner < normalized.size()) {
      const size_t start = inner;
      const uint32_t piece = *decode_utf8(normalized, inner);
      if (is_punctuation(piece)) {
        finish_word();
        current.append(normalized, start, inner - start);
        finish_word();
      } else {
        current.append(normalized, start, inner - start);
      }
    }
  }
  finish_word();
  return words;
}

}  // namespace

void encode_wordpiece(const Model& model, std::string_view text, std::vector<int32_t>& out) {
  // Vocabularies converted for GGUF mark word starts with U+2581 and leave continuations
  // bare; original BERT vocabularies leave starts bare and prefix continuations with "##".
  static constexpr std::string_view kWordStart = "\xE2\x96\x81";
  const bool hash_continuations = model.find("##s") >= 0 && model.find("\xE2\x96\x81s") < 0;
  const std::string_view start_prefix = hash_continuations ? "" : kWordStart;
  const std::string_view continuation_prefix = hash_continuations ? "##" : "";

  std::string candidate;
  for (const std::string& word : basic_tokenize(text, model.wordpiece_uncased)) {
    const size_t first_output = out.size();
    bool matched_all = true;
    for (size_t start = 0; start < word.size();) {
      const std::string_view prefix = start == 0 ? start_prefix : continuation_prefix;
      const size_t longest = std::min(word.size() - start, model.max_token_bytes);
      int32_t found = -1;
      size_t found_length = 0;
      for (size_t length = longest; length > 0; --length) {
        candidate.assign(prefix);
        candidate.append(word, start, length);
        if (const int32_t id = model.find(candidate); id >= 0) {
          found = id;
          found_length = length;
          break;
        }
      }
      if (found < 0) {
        matched_all = false;
        break;
      }
      out.push_back(found);
      start += found_length;
    }
    if (!matched_all) {
      // A word that cannot be spelled entirely becomes a single unknown token.
      out.resize(first_output);
      if (model.unk >= 0) out.push_back(model.unk);
    }
  }
}

}  // namespace hearth::tokenizer_detail
