// Collection::query: BM25 over FTS5 (rag/bm25.h) and vector similarity, fused by reciprocal rank.
#include <sqlite3.h>

#include <algorithm>
#include <cstring>

#include "rag/bm25.h"
#include "rag/collection.h"
#include "rag/read_snapshot.h"
#include "rag/retrieval.h"
#include "server/sqlite_util.h"

namespace hearth::rag {
namespace sql = server::sql;
namespace {

// Candidates each list contributes to the fusion.
int candidate_count(int k) {
  return std::max(50, k * 4);
}

}  // namespace

const char* to_string(QueryMode mode) {
  switch (mode) {
    case QueryMode::kHybrid: return "hybrid";
    case QueryMode::kBm25: return "bm25";
    case QueryMode::kVector: return "vector";
  }
  return "hybrid";
}

Result<std::vector<Ranked>> Collection::nearest_in(sqlite3* db, std::span<const float> q, int n,
                                                   bool exact) const {
  const size_t dim = q.size();
  std::shared_ptr<const HnswIndex> index;
  if (!exact) {
    auto found = vector_index(db);
    if (!found) return std::unexpected(found.error());
    index = std::move(*found);
  }
  last_used_hnsw_ = index != nullptr;
  if (index) {
    if (index->dim() != dim)
      return fail(ErrorKind::kDataLoss, "the HNSW index has " + std::to_string(index->dim()) +
                                            " dimensions, the query " + std::to_string(dim));
    return index->search(q.data(), static_cast<size_t>(n));
  }
  TopK top(static_cast<size_t>(n));
  sql::Stmt s(db, "SELECT chunk_id, embedding FROM vectors");
  std::vector<float> row(dim);
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (static_cast<size_t>(s.bytes(1)) != dim * sizeof(float))
      return fail(ErrorKind::kDataLoss, "a stored vector has " + std::to_string(s.bytes(1) / 4) +
                                            " dimensions, the query " + std::to_string(dim));
    std::memcpy(row.data(), s.blob(1), dim * sizeof(float));  // blobs are not float-aligned
    top.offer(s.int64(0), dot(q.data(), row.data(), dim));
  }
  if (rc != SQLITE_DONE) return std::unexpected(sql::error(db, "vector search"));
  return top.take();
}

Result<std::vector<Ranked>> Collection::nearest_chunks(std::span<const float> q, int n,
                                                       bool exact) const {
  if (q.empty() || n < 1) return invalid_input("nearest_chunks needs a vector and n >= 1");
  auto conn = ReadSnapshot::open(path_);
  if (!conn) return std::unexpected(conn.error());
  auto out = nearest_in(conn->db(), q, n, exact);
  (void)sql::exec(conn->db(), "COMMIT");
  return out;
}

Result<std::vector<Hit>> Collection::query(const std::string& question, int k,
                                           Embedder* embedder) const {
  return query(question, k, embedder, QueryOptions{});
}

Result<std::vector<Hit>> Collection::query(const std::string& question, int k, Embedder* embedder,
                                           const QueryOptions& options) const {
  if (options.mode == QueryMode::kBm25) embedder = nullptr;
  if (options.mode == QueryMode::kVector && !embedder)
    return invalid_input("a vector-only query needs the collection's embedder");
  if (k < 1 || k > 1000)
    return invalid_input("k must be between 1 and 1000 (got " + std::to_string(k) + ")");
  if (question.find_first_not_of(" \t\r\n") == std::string::npos)
    return invalid_input("the question is empty");
  if (first_invalid_utf8(question) >= 0) return invalid_input("the question is not valid UTF-8");
  auto stored = embedder_identity();
  if (!stored) return std::unexpected(stored.error());
  if (embedder) {
    const EmbedderIdentity& mine = embedder->identity();
    if (!*stored || (*stored)->model == "none")
      return fail(ErrorKind::kConflict,
                  "collection '" + name_ + "' has no vectors (indexed with --embed none); " +
                      "query it without an embedder, not with '" + mine.model + "'");
    if ((*stored)->sha256 != mine.sha256 || (*stored)->dimension != mine.dimension)
      return fail(ErrorKind::kConflict,
                  "collection '" + name_ + "' was indexed with embedder '" + (*stored)->model +
                      "' (sha256 " + (*stored)->sha256.substr(0, 12) +
                      "...), but the query uses '" + mine.model + "' (sha256 " +
                      mine.sha256.substr(0, 12) + "...); `hearth rag reindex` migrates it");
  }

  // A connection of its own: WAL lets it read a consistent snapshot while a writer commits.
  auto conn = ReadSnapshot::open(path_);
  if (!conn) return std::unexpected(conn.error());
  const int n = candidate_count(k);

  std::vector<std::vector<int64_t>> lists;
  std::vector<int64_t> bm25;
  std::vector<Ranked> bm25_scored;
  if (options.mode != QueryMode::kVector) {
    auto found = options.bm25_fts5_rank ? bm25_fts5_rank(conn->db(), question, n)
                                        : bm25_top(conn->db(), question, n);
    if (!found) return std::unexpected(found.error());
    bm25_scored = std::move(*found);
    for (const Ranked& r : bm25_scored) bm25.push_back(r.id);
  }
  if (options.mode != QueryMode::kVector) lists.push_back(bm25);

  std::vector<int64_t> nearest;
  if (embedder) {
    auto q = embedder->embed(question, /*is_query=*/true);
    if (!q) return std::unexpected(q.error());
    auto best = nearest_in(conn->db(), *q, n, options.exact);
    if (!best) return std::unexpected(best.error());
    for (const Ranked& r : *best) nearest.push_back(r.id);
    lists.push_back(nearest);
  }

  auto fused = reciprocal_rank_fusion(lists);
  if (fused.size() > static_cast<size_t>(k)) fused.resize(static_cast<size_t>(k));
  std::vector<Hit> hits;
  sql::Stmt fetch(
      conn->db(),
      "SELECT d.path, c.page, c.heading, c.char_start, c.char_end, c.text FROM chunks c "
      "JOIN documents d ON d.id = c.document_id WHERE c.id = ?");
  for (const Ranked& r : fused) {
    fetch.reset();
    if (fetch.bind(1, r.id).step() != SQLITE_ROW) continue;
    Hit h;
    h.path = fetch.text(0);
    h.page = static_cast<int>(fetch.int64(1));
    h.heading = fetch.text(2);
    h.char_start = fetch.int64(3);
    h.char_end = fetch.int64(4);
    h.quote = fetch.text(5);
    h.score = r.score;
    if (auto it = std::find(bm25.begin(), bm25.end(), r.id); it != bm25.end()) {
      h.bm25_rank = static_cast<int>(it - bm25.begin()) + 1;
      h.bm25_score = bm25_scored[static_cast<size_t>(it - bm25.begin())].score;
    }
    if (auto it = std::find(nearest.begin(), nearest.end(), r.id); it != nearest.end())
      h.vector_rank = static_cast<int>(it - nearest.begin()) + 1;
    hits.push_back(std::move(h));
  }
  (void)sql::exec(conn->db(), "COMMIT");
  return hits;
}

}  // namespace hearth::rag
