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
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "hearth/status.h"
#include "rag/chunker.h"
#include "rag/embedder.h"
#include "rag/parse.h"

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
  std::string quote;               // the chunk's text
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

  Result<std::vector<DocumentRow>> documents() const;
  Result<CollectionInfo> info() const;

  // Top `k` chunks for `question`: BM25 over FTS5 and, with an embedder, exact cosine
  // similarity, fused by reciprocal rank. `embedder` must match the stored one (kConflict
  // naming both otherwise); null gives BM25-only.
  Result<std::vector<Hit>> query(const std::string& question, int k, Embedder* embedder) const;

 private:
  Collection() = default;
  Status write_document(const DocumentRow& row, const ParsedDocument* doc,
                        const std::vector<Chunk>& chunks,
                        const std::vector<std::vector<float>>& vectors, const AddOptions& options);
  std::string name_;
  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  mutable std::mutex write_mutex_;
};

// Deletes the collection's database files. kNotFound when there is none.
Status delete_collection(const std::string& name);
// Names of the collections under collections_dir(), sorted.
std::vector<std::string> list_collections();

}  // namespace hearth::rag
