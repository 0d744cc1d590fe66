#include "rag/chunker.h"

#include <algorithm>

namespace hearth::rag {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

// A word and the whitespace after it, at most kMaxUnitBytes long (cut on a UTF-8 character
// boundary) so that one unit never exceeds a chunk: minified code or base64 has no spaces.
constexpr int64_t kMaxUnitBytes = 48;

struct Unit {
  int64_t start;
  int64_t end;
  int tokens;
  bool paragraph_end;  // the unit's trailing whitespace holds a blank line
};

std::vector<Unit> split_units(const std::string& text, int64_t from, int64_t to,
                              const TokenCounter& count) {
  std::vector<Unit> units;
  int64_t i = from;
  while (i < to) {
    int64_t word_end = i;
    while (word_end < to && is_space(text[word_end])) ++word_end;  // leading space (section start)
    while (word_end < to && !is_space(text[word_end]) && word_end - i < kMaxUnitBytes) ++word_end;
    // Do not cut inside a multi-byte character.
    while (word_end < to && word_end > i + 1 &&
           (static_cast<unsigned char>(text[word_end]) & 0xC0) == 0x80)
      --word_end;
    int64_t end = word_end;
    int newlines = 0;
    while (end < to && is_space(text[end])) newlines += text[end++] == '\n';
    const std::string_view word(text.data() + i, static_cast<size_t>(word_end - i));
    const bool blank = word.find_first_not_of(" \n\t\r\f\v") == std::string_view::npos;
    units.push_back(Unit{i, end, blank ? 0 : std::max(1, count(word)), newlines >= 2});
    i = end;
  }
  return units;
}

void emit(const std::string& text, const std::vector<Unit>& units, size_t a, size_t b,
          const Section& section, std::vector<Chunk>& out) {
  int64_t start = units[a].start;
  int64_t end = units[b - 1].end;
  while (start < end && is_space(text[start])) ++start;
  while (end > start && is_space(text[end - 1])) --end;
  if (end <= start) return;
  int tokens = 0;
  for (size_t k = a; k < b; ++k) tokens += units[k].tokens;
  out.push_back(Chunk{start, end, section.page, section.heading, tokens});
}

}  // namespace

int approximate_tokens(std::string_view piece) {
  return std::max(1, static_cast<int>((piece.size() + 3) / 4));
}

std::vector<Chunk> chunk_document(const ParsedDocument& doc, const ChunkOptions& options,
                                  const TokenCounter& count) {
  std::vector<Chunk> out;
  const int budget = std::max(1, options.max_tokens);
  const int overlap = std::clamp(options.overlap, 0, budget / 2);
  for (const Section& section : doc.sections) {
    const auto units = split_units(doc.text, section.start, section.end, count);
    size_t a = 0;
    while (a < units.size()) {
      size_t b = a;
      int tokens = 0;
      while (b < units.size() && (b == a || tokens + units[b].tokens <= budget))
        tokens += units[b++].tokens;
      if (b < units.size()) {
        // Prefer a paragraph break in the chunk's second half.
        int running = 0;
        size_t best = 0;
        for (size_t k = a; k < b; ++k) {
          running += units[k].tokens;
          if (units[k].paragraph_end && running * 2 >= tokens) best = k + 1;
        }
        if (best > a && best < b) b = best;
      }
      emit(doc.text, units, a, b, section, out);
      if (b >= units.size()) break;
      // Step back `overlap` tokens, always moving forward by at least one unit.
      size_t next = b;
      int back = 0;
      while (next > a + 1 && back + units[next - 1].tokens <= overlap) back += units[--next].tokens;
      a = next;
    }
  }
  return out;
}

}  // namespace hearth::rag
