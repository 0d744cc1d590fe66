// Hand-written matchers for the common pre-tokenizer expressions, for builds without PCRE2
// (HEARTH_NO_PCRE2: WebAssembly). Each gives what PCRE2 gives for its expression (leftmost
// match, alternatives tried in order, greedy with backtracking), spelled out for that one
// expression. Native builds compile it too, only so that pretokenize_builtin_test.cpp can
// compare it with PCRE2; wasm/test/tokenizer.test.mjs checks it on the shared vectors.
#include "engine/tokenizer/pretokenize_builtin.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

#include "engine/tokenizer/unicode.h"

namespace hearth::tokenizer_detail {
namespace {

struct ClassRange {
  uint32_t first;
  uint32_t last;
  uint8_t klass;
};

constexpr ClassRange kClasses[] = {
#include "engine/tokenizer/pretokenize_classes.inc"
};

constexpr uint8_t kOther = 0, kLetter = 1, kNumber = 2, kSpace = 3;

uint8_t class_of(uint32_t cp) {
  const auto* it = std::upper_bound(std::begin(kClasses), std::end(kClasses), cp,
                                    [](uint32_t c, const ClassRange& r) { return c < r.first; });
  if (it == std::begin(kClasses)) return kOther;
  --it;
  return cp <= it->last ? it->klass : kOther;
}

// A piece as code points, with the byte offset where each starts (offsets[size] = bytes).
struct Decoded {
  std::vector<uint32_t> cps;
  std::vector<uint8_t> classes;
  std::vector<size_t> offsets;
};

Decoded decode(std::string_view piece) {
  Decoded d;
  size_t pos = 0;
  while (pos < piece.size()) {
    d.offsets.push_back(pos);
    const std::optional<uint32_t> cp = decode_utf8(piece, pos);
    // The input should be well-formed; a stray byte (decode_utf8 then stays put) becomes a
    // character of its own, of no class, so the walk always advances.
    if (!cp) ++pos;
    d.cps.push_back(cp.value_or(0xFFFD));
    d.classes.push_back(cp ? class_of(*cp) : kOther);
  }
  d.offsets.push_back(piece.size());
  return d;
}

bool is_cr_lf(uint32_t cp) {
  return cp == '\r' || cp == '\n';
}

uint32_t lower_ascii(uint32_t cp) {
  return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

// 's 't 're 've 'm 'll 'd at i; case-insensitive for the Llama-3 family. 0: no match.
size_t contraction(const Decoded& d, size_t i, bool any_case) {
  const size_t n = d.cps.size();
  if (d.cps[i] != '\'' || i + 1 >= n) return 0;
  auto at = [&](size_t k) { return any_case ? lower_ascii(d.cps[k]) : d.cps[k]; };
  const uint32_t a = at(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 < n) {
    const uint32_t b = at(i + 2);
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  }
  return 0;
}

size_t run_of(const Decoded& d, size_t i, uint8_t klass, size_t max = SIZE_MAX) {
  size_t k = i;
  while (k < d.cps.size() && k - i < max && d.classes[k] == klass) ++k;
  return k - i;
}

bool is_other(const Decoded& d, size_t k) {
  return d.classes[k] == kOther;
}

// `\s+(?!\S)` then `\s+` at i (a white-space character): the run, less its last character when
// a non-space follows and the run is longer than one.
size_t space_tail(const Decoded& d, size_t i) {
  const size_t run = run_of(d, i, kSpace);
  if (i + run == d.cps.size() || run == 1) return run;
  return run - 1;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
size_t match_gpt2(const Decoded& d, size_t i) {
  const size_t n = d.cps.size();
  if (size_t len = contraction(d, i, false)) return len;
  const size_t j = d.cps[i] == ' ' && i + 1 < n ? i + 1 : i;
  if (d.classes[j] == kLetter) return j - i + run_of(d, j, kLetter);
  if (d.classes[j] == kNumber) return j - i + run_of(d, j, kNumber);
  if (is_other(d, j)) return j - i + run_of(d, j, kOther);
  return space_tail(d, i);
}

// (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|
// \p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// (Qwen2: \p{N} instead of \p{N}{1,3}.)
size_t match_llama3(const Decoded& d, size_t i, size_t max_digits) {
  const size_t n = d.cps.size();
  if (size_t len = contraction(d, i, true)) return len;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (d.classes[i] == kLetter) return run_of(d, i, kLetter);
  if (d.classes[i] != kNumber && !is_cr_lf(d.cps[i]) && i + 1 < n && d.classes[i + 1] == kLetter) {
    return 1 + run_of(d, i + 1, kLetter);
  }
  if (d.classes[i] == kNumber) return run_of(d, i, kNumber, max_digits);
  //  ?[^\s\p{L}\p{N}]+[\r\n]*
  const size_t j = d.cps[i] == ' ' && i + 1 < n ? i + 1 : i;
  if (is_other(d, j)) {
    size_t k = j + run_of(d, j, kOther);
    while (k < n && is_cr_lf(d.cps[k])) ++k;
    return k - i;
  }
  // Only white space is left at i. \s*[\r\n]+: up to the last CR/LF of the run.
  const size_t run = run_of(d, i, kSpace);
  for (size_t k = i + run; k > i; --k) {
    if (is_cr_lf(d.cps[k - 1])) return k - i;
  }
  return space_tail(d, i);
}

}  // namespace

void builtin_split(int matcher, std::string_view piece, std::vector<std::string_view>& out) {
  if (piece.empty()) return;
  const Decoded d = decode(piece);
  size_t i = 0;
  while (i < d.cps.size()) {
    size_t len = 0;
    switch (matcher) {
      case kBuiltinGpt2: len = match_gpt2(d, i); break;
      case kBuiltinLlama3: len = match_llama3(d, i, 3); break;
      case kBuiltinQwen2: len = match_llama3(d, i, 1); break;
      default: len = d.cps.size() - i; break;
    }
    len = std::max<size_t>(len, 1);  // every character is matched by some alternative
    out.push_back(piece.substr(d.offsets[i], d.offsets[i + len] - d.offsets[i]));
    i += len;
  }
}

}  // namespace hearth::tokenizer_detail
