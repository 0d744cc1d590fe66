#include "rag/retrieval.h"

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace hearth::rag {

std::vector<std::string> fts5_words(std::string_view q) {
  std::vector<std::string> words;
  size_t i = 0;
  auto word_char = [](unsigned char c) { return std::isalnum(c) || c >= 0x80 || c == '_'; };
  while (i < q.size() && words.size() < 64) {  // a bounded query: a pasted page stays cheap
    while (i < q.size() && !word_char(static_cast<unsigned char>(q[i]))) ++i;
    size_t j = i;
    while (j < q.size() && word_char(static_cast<unsigned char>(q[j]))) ++j;
    if (j > i) words.emplace_back(q.substr(i, j - i));
    i = j;
  }
  return words;
}

std::string fts5_query(std::string_view q) {
  std::string out;
  for (const std::string& word : fts5_words(q)) {
    if (!out.empty()) out += " OR ";
    // Quoted: FTS5 reads the word as a string, so keywords and operators are plain text.
    // The word has no '"' (not a word character), so no escaping is needed inside.
    out += '"';
    out += word;
    out += '"';
  }
  return out;
}

std::vector<Ranked> reciprocal_rank_fusion(const std::vector<std::vector<int64_t>>& lists,
                                           double k) {
  std::unordered_map<int64_t, double> scores;
  for (const auto& list : lists)
    for (size_t r = 0; r < list.size(); ++r)
      scores[list[r]] += 1.0 / (k + static_cast<double>(r + 1));
  std::vector<Ranked> out;
  out.reserve(scores.size());
  for (const auto& [id, s] : scores) out.push_back(Ranked{id, s});
  std::sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  return out;
}

void TopK::offer(int64_t id, double score) {
  auto greater = [](const Ranked& a, const Ranked& b) { return a.score > b.score; };
  if (heap_.size() < k_) {
    heap_.push_back(Ranked{id, score});
    std::push_heap(heap_.begin(), heap_.end(), greater);
  } else if (k_ > 0 && score > heap_.front().score) {
    std::pop_heap(heap_.begin(), heap_.end(), greater);
    heap_.back() = Ranked{id, score};
    std::push_heap(heap_.begin(), heap_.end(), greater);
  }
}

std::vector<Ranked> TopK::take() {
  std::vector<Ranked> out = std::move(heap_);
  heap_.clear();
  std::sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  return out;
}

}  // namespace hearth::rag
