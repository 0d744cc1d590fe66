// SentencePiece-style BPE: adjacent pieces merge while their concatenation is a token, best
// score first; characters no token covers fall back to byte tokens.
#include <queue>
#include <string>

#include "engine/tokenizer/model.h"
#include "engine/tokenizer/unicode.h"

namespace hearth::tokenizer_detail {

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";  // U+2581, SentencePiece's space

struct Symbol {
  size_t offset = 0;
  size_t length = 0;  // 0 once merged into its left neighbour
  int prev = -1;
  int next = -1;
};

struct Candidate {
  int left = 0;
  int right = 0;
  float score = 0.0f;
  size_t length = 0;  // combined length when queued; stale if a side changed since
};

struct CandidateOrder {
  // Highest score first; on equal scores the leftmost pair.
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

void encode_spm(const Model& model, std::string_view raw, std::vector<int32_t>& out) {
  // Spaces become U+2581 (and, per the vocabulary, one is put in front of the text by the
  // caller) so that tokens carry their leading space.
  std::string text;
  text.reserve(raw.size() + raw.size() / 4);
  for (char c : raw) {
    if (c == ' ') {
      text.append(kSpaceMarker);
    } else {
      text.push_back(c);
    }
  }
  if (text.empty()) return;

  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < text.size();) {
    // One character per symbol; a byte that is not part of a well-formed character stands
    // alone, so that it cannot swallow the start of the next character (byte fallback then
    // keeps every byte as it was).
    size_t end = offset;
    const size_t length = decode_utf8(text, end) ? end - offset : 1;
    Symbol symbol;
    symbol.offset = offset;
    symbol.length = length;
    symbol.prev = static_cast<int>(symbols.size()) - 1;
    symbol.next = offset + length < text.size() ? static_cast<int>(symbols.size()) + 1 : -1;
    symbols.push_back(symbol);
    offset += length;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  const auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const std::string_view pair(text.data() + symbols[left].offset,
                                symbols[left].length + symbols[right].length);
    const int32_t id = model.find(pair);
    if (id < 0) return;
    queue.push(Candidate{left, right, model.tokens[id].score, pair.size()});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    const Candidate best = queue.top();
    queue.pop();
    Symbol& left = symbols[best.left];
    Symbol& right = symbols[best.right];
    // Skip pairs one of whose sides has been merged into something else meanwhile.
    if (left.length == 0 || right.length == 0 || left.length + right.length != best.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = best.left;
    try_add(left.prev, best.left);
    try_add(best.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& symbol = symbols[i];
    const std::string_view piece(text.data() + symbol.offset, symbol.length);
    if (const int32_t id = model.find(piece); id >= 0) {
      out.push_back(id);
      continue;
    }
    // Merged pieces are always tokens, so this is a single character the vocabulary lacks.
    for (char c : piece) {
      const int32_t byte_id = model.byte_tokens[static_cast<uint8_t>(c)];
      const int32_t fallback = byte_id >= 0 ? byte_id : model.unk;
      if (fallback >= 0) out.push_back(fallback);
    }
  }
}

}  // namespace hearth::tokenizer_detail
