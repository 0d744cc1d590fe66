// Pieces of retrieval that need no database: turning a user's question into a safe FTS5 query,
// reciprocal rank fusion, and the exact similarity scan. Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::rag {

// An FTS5 MATCH expression for free text: every word (letters, digits, any non-ASCII byte)
// becomes a quoted string, OR-ed together, so FTS5 syntax in the question (quotes, '*', '-',
// ':', '^', parentheses, AND/OR/NOT/NEAR) is matched as text and never errors. Empty when the
// question has no words.
std::string fts5_query(std::string_view question);
// The words fts5_query quotes, in order (duplicates kept, at most 64): FTS5 numbers the
// phrases of that expression in this order.
std::vector<std::string> fts5_words(std::string_view question);

struct Ranked {
  int64_t id;
  double score;
};

// Reciprocal rank fusion: each id scores the sum over the lists of 1 / (k + rank), rank
// 1-based; the result is sorted by that score (ties: smaller id first).
std::vector<Ranked> reciprocal_rank_fusion(const std::vector<std::vector<int64_t>>& lists,
                                           double k = 60.0);

// Dot product of two equally long float vectors (cosine for normalized ones); written with
// independent accumulators so the compiler vectorizes it.
float dot(const float* a, const float* b, size_t n);

// Keeps the `k` best (id, score) pairs offered, highest score first.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}
  void offer(int64_t id, double score);
  std::vector<Ranked> take();  // sorted, best first

 private:
  size_t k_;
  std::vector<Ranked> heap_;  // min-heap on score
};

}  // namespace hearth::rag
