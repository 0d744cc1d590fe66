// Retrieval quality of a collection (`hearth rag eval`): questions with the documents that
// answer them (qrels, one JSON object per line), run through Collection::query, scored with
// recall@k, reciprocal rank and nDCG@k at the level of documents. docs/rag.md defines the
// format and the metrics.
//
// Pure functions and values; `evaluate` only reads the collection (its queries open their own
// read connections), so it is as thread-safe as Collection::query.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "hearth/status.h"
#include "rag/collection.h"

namespace hearth::rag {

struct Qrel {
  std::string query;
  std::vector<std::string> relevant;  // document paths: absolute, or a suffix of whole components
};

// Parses qrels JSONL: each non-blank line is {"query": "...", "relevant": ["a/b.txt", ...]}
// (other keys ignored). Errors name the 1-based line.
Result<std::vector<Qrel>> parse_qrels(std::string_view text);

// The document a relevant entry names among `documents` (absolute paths): the one equal to it,
// or the one ending in "/" + entry. kInvalidInput when it matches none or several, so a
// judgement can never silently count for the wrong file.
Result<std::string> match_document(const std::string& entry,
                                   const std::vector<std::string>& documents);

// Metrics over `ranked` (distinct document paths, best first) against `relevant` (distinct
// paths); only the first k ranked entries count. Binary relevance.
// recall@k: relevant documents in the first k / all relevant.
double recall_at(const std::vector<std::string>& ranked, const std::vector<std::string>& relevant,
                 int k);
// 1 / rank of the first relevant document within the first k, 0 if there is none.
double reciprocal_rank(const std::vector<std::string>& ranked,
                       const std::vector<std::string>& relevant, int k);
// DCG@k / ideal DCG@k with gain 1 / log2(rank + 1) for each relevant document.
double ndcg_at(const std::vector<std::string>& ranked, const std::vector<std::string>& relevant,
               int k);

// Collapses chunk hits to documents: each path once, at the rank of its best chunk.
std::vector<std::string> ranked_documents(const std::vector<Hit>& hits);

struct QueryScore {
  std::string query;
  std::vector<std::string> relevant;  // resolved absolute paths
  std::vector<std::string> ranked;    // the first k distinct documents retrieved
  double recall_5 = 0, recall_k = 0, reciprocal_rank = 0, ndcg = 0;
};

struct EvalReport {
  QueryMode mode = QueryMode::kHybrid;
  int k = 10;
  std::vector<QueryScore> queries;
  // Means over the queries.
  double recall_5 = 0, recall_k = 0, mrr = 0, ndcg = 0;
};

// Runs every qrel through `collection.query` in `mode` (the embedder as Collection::query takes
// it) and scores the first k distinct documents. Fails on a relevant entry that does not name
// exactly one document of the collection, or on a failed query.
Result<EvalReport> evaluate(const Collection& collection, const std::vector<Qrel>& qrels,
                            QueryMode mode, int k, Embedder* embedder);

}  // namespace hearth::rag
