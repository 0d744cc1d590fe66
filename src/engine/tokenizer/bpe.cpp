// Byte-level BPE: text is cut into words by the pre-tokenizer, each word's bytes are spelled
// with GPT-2's printable byte characters, and adjacent symbols merge lowest rank first.
#include <queue>
#include <string>

#include "engine/tokenizer/model.h"
#include "engine/tokenizer/unicode.h"

namespace hearth::tokenizer_detail {

namespace {

struct Symbol {
  size_t offset = 0;
  size_t length = 0;  // 0 once merged into its left neighbour
  int32_t id = -1;    // token of this symbol's text, -1 if none
  int prev = -1;
  int next = -1;
};

struct Candidate {
  int left = 0;
  int right = 0;
  int32_t rank = 0;
  size_t length = 0;  // combined length when queued; stale if a side changed since
};

struct CandidateOrder {
  // Lowest rank first; on equal ranks the leftmost pair.
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  }
};

void encode_word(const Model& model, std::string_view word, std::vector<int32_t>& out) {
  std::string encoded;
  encoded.reserve(word.size() * 2);
  for (char c : word) append_utf8(encoded, byte_to_unicode(static_cast<uint8_t>(c)));

  if (model.ignore_merges) {
    if (const int32_t id = model.find(encoded); id >= 0) {
      out.push_back(id);
      return;
    }
  }

  std::vector<Symbol> symbols;
  for (size_t offset = 0; offset < encoded.size();) {
    const size_t length = std::min<size_t>(
        utf8_sequence_length(static_cast<uint8_t>(encoded[offset])), encoded.size() - offset);
    Symbol symbol;
    symbol.offset = offset;
    symbol.length = length;
    symbol.id = model.find(std::string_view(encoded).substr(offset, length));
    symbol.prev = static_cast<int>(symbols.size()) - 1;
    symbol.next = offset + length < encoded.size() ? static_cast<int>(symbols.size()) + 1 : -1;
    symbols.push_back(symbol);
    offset += length;
  }

  std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
  const auto try_add = [&](int left, int right) {
    if (left < 0 || right < 0) return;
    const int32_t left_id = symbols[left].id;
    const int32_t right_id = symbols[right].id;
    if (left_id < 0 || right_id < 0) return;
    const uint64_t key = (static_cast<uint64_t>(left_id) << 32) | static_cast<uint32_t>(right_id);
    const auto it = model.merge_ranks.find(key);
    if (it == model.merge_ranks.end()) return;
    queue.push(Candidate{left, right, it->second, symbols[left].length + symbols[right].length});
  };
  for (size_t i = 1; i < symbols.size(); ++i) try_add(static_cast<int>(i) - 1, static_cast<int>(i));

  while (!queue.empty()) {
    const Candidate best = queue.top();
    queue.pop();
    Symbol& left = symbols[best.left];
    Symbol& right = symbols[best.right];
    if (left.length == 0 || right.length == 0 || left.length + right.length != best.length) {
      continue;
    }
    left.length += right.length;
    right.length = 0;
    // Loading checked that every merge produces a token.
    left.id = model.find(std::string_view(encoded).substr(left.offset, left.length));
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = best.left;
    try_add(left.prev, best.left);
    try_add(best.left, left.next);
  }

  for (int i = 0; i >= 0; i = symbols[i].next) {
    const Symbol& symbol = symbols[i];
    if (symbol.id >= 0) {
      out.push_back(symbol.id);
    } else if (model.unk >= 0) {
      // A byte character the vocabulary lacks: only possible in a damaged vocabulary.
      out.push_back(model.unk);
    }
  }
}

}  // namespace

void encode_bpe(const Model& model, std::string_view raw, std::vector<int32_t>& out) {
  // The pre-tokenizer expects well-formed UTF-8; invalid bytes become U+FFFD first.
  const std::string text = sanitize_utf8(raw);
  for (std::string_view word : model.pre_tokenizer->split(text)) encode_word(model, word, out);
}

}  // namespace hearth::tokenizer_detail
