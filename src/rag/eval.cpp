// Qrels parsing, document matching and the retrieval metrics of `hearth rag eval`.
#include "rag/eval.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace hearth::rag {
namespace {

using json = nlohmann::json;

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

size_t cutoff(const std::vector<std::string>& ranked, int k) {
  return std::min(ranked.size(), static_cast<size_t>(std::max(k, 0)));
}

// Chunks asked of the collection so that k distinct documents are likely among them.
int chunk_depth(int k) {
  return std::min(1000, std::max(100, k * 10));
}

}  // namespace

Result<std::vector<Qrel>> parse_qrels(std::string_view text) {
  std::vector<Qrel> out;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    const std::string where = "qrels line " + std::to_string(line_no) + ": ";
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return invalid_input(where + "not a JSON object");
    auto q = j.find("query");
    if (q == j.end() || !q->is_string() || q->get<std::string>().empty())
      return invalid_input(where + "\"query\" must be a non-empty string");
    auto rel = j.find("relevant");
    if (rel == j.end() || !rel->is_array() || rel->empty())
      return invalid_input(where + "\"relevant\" must be a non-empty array of paths");
    Qrel qrel;
    qrel.query = q->get<std::string>();
    for (const json& r : *rel) {
      if (!r.is_string() || r.get<std::string>().empty())
        return invalid_input(where + "every \"relevant\" entry must be a non-empty string");
      if (!contains(qrel.relevant, r.get<std::string>()))
        qrel.relevant.push_back(r.get<std::string>());
    }
    out.push_back(std::move(qrel));
  }
  if (out.empty()) return invalid_input("the qrels file has no questions");
  return out;
}

Result<std::string> match_document(const std::string& entry,
                                   const std::vector<std::string>& documents) {
  std::vector<const std::string*> found;
  const std::string suffix = entry.front() == '/' ? entry : "/" + entry;
  for (const std::string& d : documents) {
    const bool same = d == entry;
    const bool ends =
        d.size() > suffix.size() && d.compare(d.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (same || ends) found.push_back(&d);
  }
  if (found.empty())
    return invalid_input("relevant document '" + entry + "' is not in the collection");
  if (found.size() > 1)
    return invalid_input("relevant document '" + entry + "' matches " +
                         std::to_string(found.size()) + " documents (" + *found[0] + ", " +
                         *found[1] + "): give more of its path");
  return *found[0];
}

double recall_at(const std::vector<std::string>& ranked, const std::vector<std::string>& relevant,
                 int k) {
  if (relevant.empty()) return 0;
  size_t hits = 0;
  for (size_t i = 0; i < cutoff(ranked, k); ++i) hits += contains(relevant, ranked[i]);
  return static_cast<double>(hits) / static_cast<double>(relevant.size());
}

double reciprocal_rank(const std::vector<std::string>& ranked,
                       const std::vector<std::string>& relevant, int k) {
  for (size_t i = 0; i < cutoff(ranked, k); ++i)
    if (contains(relevant, ranked[i])) return 1.0 / static_cast<double>(i + 1);
  return 0;
}

double ndcg_at(const std::vector<std::string>& ranked, const std::vector<std::string>& relevant,
               int k) {
  double dcg = 0;
  for (size_t i = 0; i < cutoff(ranked, k); ++i)
    if (contains(relevant, ranked[i])) dcg += 1.0 / std::log2(static_cast<double>(i + 2));
  double ideal = 0;
  const size_t best = std::min(relevant.size(), static_cast<size_t>(std::max(k, 0)));
  for (size_t i = 0; i < best; ++i) ideal += 1.0 / std::log2(static_cast<double>(i + 2));
  return ideal > 0 ? dcg / ideal : 0;
}

std::vector<std::string> ranked_documents(const std::vector<Hit>& hits) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const Hit& h : hits)
    if (seen.insert(h.path).second) out.push_back(h.path);
  return out;
}

Result<EvalReport> evaluate(const Collection& collection, const std::vector<Qrel>& qrels,
                            QueryMode mode, int k, Embedder* embedder) {
  if (k < 5 || k > 100) return invalid_input("k must be between 5 and 100");
  auto docs = collection.documents();
  if (!docs) return std::unexpected(docs.error());
  std::vector<std::string> paths;
  for (const DocumentRow& d : *docs)
    if (d.status == "indexed") paths.push_back(d.path);

  EvalReport report;
  report.mode = mode;
  report.k = k;
  for (const Qrel& q : qrels) {
    QueryScore score;
    score.query = q.query;
    for (const std::string& entry : q.relevant) {
      auto doc = match_document(entry, paths);
      if (!doc) return std::unexpected(doc.error());
      if (!contains(score.relevant, *doc)) score.relevant.push_back(*doc);
    }
    auto hits = collection.query(q.query, chunk_depth(k), embedder, QueryOptions{mode});
    if (!hits) return fail(hits.error().kind, "query '" + q.query + "': " + hits.error().message);
    score.ranked = ranked_documents(*hits);
    if (score.ranked.size() > static_cast<size_t>(k)) score.ranked.resize(static_cast<size_t>(k));
    score.recall_5 = recall_at(score.ranked, score.relevant, 5);
    score.recall_k = recall_at(score.ranked, score.relevant, k);
    score.reciprocal_rank = reciprocal_rank(score.ranked, score.relevant, k);
    score.ndcg = ndcg_at(score.ranked, score.relevant, k);
    report.recall_5 += score.recall_5;
    report.recall_k += score.recall_k;
    report.mrr += score.reciprocal_rank;
    report.ndcg += score.ndcg;
    report.queries.push_back(std::move(score));
  }
  const double n = static_cast<double>(report.queries.size());
  if (n > 0) {
    report.recall_5 /= n;
    report.recall_k /= n;
    report.mrr /= n;
    report.ndcg /= n;
  }
  return report;
}

}  // namespace hearth::rag
