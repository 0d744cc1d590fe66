// A RAG collection: one SQLite database ($HEARTH_HOME/rag/NAME.sqlite, WAL) holding the
// documents, their chunks, an FTS5 BM25 index over the chunks, the chunk vectors and the
// identity of the embedder that made them. docs/rag.md describes the schema.
//
// Ownership and threads:
// - A Collection owns one SQLite connection for writing (add, sync, remove) guarded by a
//   mutex, and opens a short-lived read connection per query, so any number of threads may
//   query at once while one adds: WAL readers never wait for the writer, and a writer waits
//   (busy timeout) rather than failing with "database is locked".
// - Other processes may open the same collection; SQLite serializes their writes (one writer
//   per collection at a time) and each file is one transaction, so a process killed mid-add
//   leaves every file either fully indexed or untouched, and adding again resumes.
// - The Embedder is borrowed: it must outlive the calls it is passed to.
// - Large collections' HNSW index (rag/hnsw_index.h) is cached per Collection behind its own
//   mutex; a query that finds no index for the current vectors builds it while holding that
//   mutex, so concurrent vector queries wait for one build rather than each making their own.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hearth/status.h"
#include "rag/chunker.h"
#include "rag/embedder.h"
#include "rag/hnsw_index.h"
#include "rag/parse.h"
#include "rag/retrieval.h"

struct sqlite3;

namespace hearth::rag {

// Collection names: 1..64 of [A-Za-z0-9_.-], not starting with '.'; so a name is never a path.
Status validate_collection_name(const std::string& name);
// $HEARTH_HOME/rag (created on demand by Collection::open).
std::filesystem::path collections_dir();

struct FileOutcome {
  enum Kind { kAdded, kUpdated, kUnchanged, kSkipped, kRemoved, kFailed };
  std::string path;
  Kind kind = kAdded;
  std::string reason;  // why a file was skipped or failed
  int chunks = 0;
  bool truncated = false;  // a chunk was longer than the embedder's maximum sequence and was cut
};
const char* to_string(FileOutcome::Kind kind);

struct AddOptions {
  ChunkOptions chunking;
  ParseOptions parsing;
  // Test hook: called after each chunk is written inside a file's transaction; an Error makes
  // the file fail and its transaction roll back (simulates a crash mid-file).
  std::function<Status(int chunk_index)> after_chunk_written;
};

struct ReindexOptions {
  AddOptions add;  // chunking and parsing for the new index
  // Stop after staging this many documents in this run (0 = no limit) without swapping:
  // what a kill mid-way leaves, for tests and for migrating a large collection in steps.
  int max_documents = 0;
};

struct ReindexReport {
  int staged = 0;          // documents embedded in this run
  int already_staged = 0;  // staged by an earlier, interrupted run (resumed)
  int changed = 0;         // re-read with new content (the file changed since it was indexed)
  int gone = 0;            // files no longer there or no longer parsable: dropped at the swap
  int64_t chunks = 0;      // chunks of the new index
  bool swapped = false;    // the new index replaced the old one
};

struct DocumentRow {
  std::string path;
  std::string sha256;
  int64_t mtime = 0;
  int64_t size = 0;
  std::string type;
  std::string status;  // "indexed" or "skipped"
  std::string reason;
  int chunks = 0;
};

struct Hit {
  std::string path;
  int page = 0;
  std::string heading;
  int64_t char_start = 0;  // UTF-8 byte offsets into the document's extracted text
  int64_t char_end = 0;
  double score = 0;  // fused score (RRF), or BM25-only RRF when the collection has no vectors
  std::optional<int> bm25_rank;    // 1-based rank in the BM25 list, if present there
  std::optional<int> vector_rank;  // 1-based rank in the vector list
  double bm25_score = 0;           // the BM25 score (higher is better) when bm25_rank is set
  std::string quote;               // the chunk's text
};

// Which ranked lists a query fuses. kHybrid without an embedder is BM25 alone.
enum class QueryMode { kHybrid, kBm25, kVector };
const char* to_string(QueryMode mode);

struct QueryOptions {
  QueryMode mode = QueryMode::kHybrid;
  bool exact = false;  // the exact vector scan even where an HNSW index would be used
  // BM25 through FTS5's `ORDER BY rank`, which scores every matching chunk, instead of
  // bm25_top (rag/bm25.h): the same list, kept for benchmarks.
  bool bm25_fts5_rank = false;
};

struct CollectionInfo {
  std::string name;
  EmbedderIdentity embedder;  // model "none" for BM25-only; empty model before the first add
  int64_t documents = 0;
  int64_t skipped = 0;
  int64_t chunks = 0;
  int64_t bytes = 0;  // database file size
};

class Collection {
 public:
  // Opens (with `create`, creates) $HEARTH_HOME/rag/NAME.sqlite or `path_override`.
  static Result<std::unique_ptr<Collection>> open(const std::string& name, bool create,
                                                  const std::filesystem::path& path_override = {});
  ~Collection();
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  const std::string& name() const { return name_; }
  const std::filesystem::path& path() const { return path_; }

  // The stored embedder, if the collection has been given one (model "none" = BM25-only).
  Result<std::optional<EmbedderIdentity>> embedder_identity() const;
  // Fails (kConflict) naming both models when `embedder` (null = none) differs from the stored
  // one; records it when the collection has none yet.
  Status bind_embedder(const Embedder* embedder);

  // Indexes one file: parse, chunk, embed (outside any transaction), then one transaction
  // that replaces the file's previous rows. The same content again is kUnchanged (sha256).
  FileOutcome add_file(const std::filesystem::path& file, Embedder* embedder,
                       const AddOptions& options);
  // Walks directories (skipping hidden entries) and adds every regular file.
  std::vector<FileOutcome> add_paths(const std::vector<std::filesystem::path>& paths,
                                     Embedder* embedder, const AddOptions& options);
  // Re-indexes files whose size, mtime or sha256 changed and drops files that are gone.
  std::vector<FileOutcome> sync(Embedder* embedder, const AddOptions& options);
  // Removes one document (by path as given, resolved to its absolute form). kNotFound if absent.
  Status remove_document(const std::filesystem::path& file);

  // Migrates the collection to `embedder` (null = none, BM25-only): every indexed document is
  // re-parsed, re-chunked in the new embedder's tokens and embedded into staging tables (one
  // transaction per document), then one transaction swaps them in with the new identity in
  // meta. Queries see the old index until the swap; an interrupted run leaves it untouched
  // and the next run with the same embedder and chunking resumes. docs/rag.md "Reindex".
  Result<ReindexReport> reindex(Embedder* embedder, const ReindexOptions& options);

  // The n chunk ids whose vectors are most similar (dot product) to `q`, best first: through
  // the HNSW index at or above the threshold unless `exact`. `q` must have the stored dimension.
  Result<std::vector<Ranked>> nearest_chunks(std::span<const float> q, int n, bool exact) const;
  // Builds (or loads) the HNSW index when the collection has at least the threshold of vectors,
  // so that the first query does not pay for it. Queries do the same lazily.
  Status prepare_vector_index() const;
  // kHnswThreshold unless changed (tests and benchmarks lower it). Not thread-safe: set it
  // before querying.
  void set_hnsw_threshold(size_t vectors) { hnsw_threshold_ = vectors; }
  // Whether the last vector search went through the HNSW index (tests, benchmarks).
  bool last_search_used_hnsw() const { return last_used_hnsw_; }

  Result<std::vector<DocumentRow>> documents() const;
  Result<CollectionInfo> info() const;

  // Top `k` chunks for `question`: BM25 over FTS5 and, with an embedder, exact cosine
  // similarity, fused by reciprocal rank. `embedder` must match the stored one (kConflict
  // naming both otherwise); null gives BM25-only.
  Result<std::vector<Hit>> query(const std::string& question, int k, Embedder* embedder) const;
  // The same with a choice of lists: kBm25 ignores the embedder, kVector needs one
  // (kInvalidInput otherwise).
  Result<std::vector<Hit>> query(const std::string& question, int k, Embedder* embedder,
                                 const QueryOptions& options) const;

 private:
  Collection() = default;
  Status write_document(const DocumentRow& row, const ParsedDocument* doc,
                        const std::vector<Chunk>& chunks,
                        const std::vector<std::vector<float>>& vectors, const AddOptions& options);
  Result<std::vector<Ranked>> nearest_in(sqlite3* db, std::span<const float> q, int n,
                                         bool exact) const;
  // Records `identity` as the collection's embedder in `meta`, inside the caller's write
  // transaction (bind_embedder for a new collection, reindex's swap).
  Status store_embedder(const EmbedderIdentity& identity);
  // The HNSW index for the vectors `db` (inside a read transaction) sees: the cached one,
  // the file beside the database, or a new one built and saved. Null below the threshold.
  Result<std::shared_ptr<const HnswIndex>> vector_index(sqlite3* db) const;

  std::string name_;
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  mutable std::mutex write_mutex_;
  size_t hnsw_threshold_ = kHnswThreshold;
  mutable std::mutex index_mutex_;  // guards the two below; held while an index is built
  mutable std::shared_ptr<const HnswIndex> index_;
  mutable std::string index_key_;  // collection.uid + vectors.version it was built from
  mutable std::atomic<bool> last_used_hnsw_{false};
};

// Removes `database`'s HNSW index files except the one named by `keep` (empty: all).
void remove_vector_indexes(const std::filesystem::path& database, const std::string& keep);

// Deletes the collection's database files. kNotFound when there is none.
Status delete_collection(const std::string& name);
// Names of the collections under collections_dir(), sorted.
std::vector<std::string> list_collections();

}  // namespace hearth::rag
