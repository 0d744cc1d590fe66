// Collection::reindex: migrate a collection to another embedder through staging tables and
// one swapping transaction, resumable after a kill (docs/rag.md "Reindex").
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>

#include "catalog/cache.h"
#include "rag/collection.h"
#include "server/sqlite_util.h"

namespace hearth::rag {
namespace sql = server::sql;
namespace fs = std::filesystem;
namespace {

// Staging: one row per document already re-embedded (source_sha = the documents row it was
// made from, so a document updated by `add` meanwhile is staged again), its chunks and vectors.
constexpr const char* kStaging = R"sql(
CREATE TABLE IF NOT EXISTS reindex_docs(
  document_id INTEGER PRIMARY KEY, source_sha TEXT NOT NULL, sha256 TEXT NOT NULL,
  size INTEGER NOT NULL, mtime INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL,
  chunk_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS reindex_chunks(
  id INTEGER PRIMARY KEY, document_id INTEGER NOT NULL, ord INTEGER NOT NULL, text TEXT NOT NULL,
  char_start INTEGER NOT NULL, char_end INTEGER NOT NULL, page INTEGER NOT NULL,
  heading TEXT NOT NULL, n_tokens INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS reindex_chunks_by_document ON reindex_chunks(document_id);
CREATE TABLE IF NOT EXISTS reindex_vectors(chunk_id INTEGER PRIMARY KEY, embedding BLOB NOT NULL);
)sql";

constexpr const char* kDropStaging =
    "DROP TABLE IF EXISTS reindex_docs; DROP TABLE IF EXISTS reindex_chunks; "
    "DROP TABLE IF EXISTS reindex_vectors; DELETE FROM meta WHERE key = 'reindex.target';";

// What the staged rows were made for: a rerun with anything else starts over.
std::string target_key(const EmbedderIdentity& e, const ChunkOptions& c) {
  return e.model + "|" + e.sha256 + "|" + std::to_string(e.dimension) + "|" +
         std::to_string(c.max_tokens) + "|" + std::to_string(c.overlap);
}

int64_t file_mtime(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

struct Pending {
  int64_t id;
  std::string path;
  std::string sha256;
};

// A document re-parsed, re-chunked and embedded, ready to stage.
struct Staged {
  std::string sha256, status = "indexed", reason;
  int64_t size = 0, mtime = 0;
  ParsedDocument doc;
  std::vector<Chunk> chunks;
  std::vector<std::vector<float>> vectors;
};

Result<Staged> prepare(const Pending& p, Embedder* embedder, const AddOptions& options) {
  Staged out;
  std::error_code ec;
  if (!fs::is_regular_file(p.path, ec)) {
    out.status = "gone";
    return out;
  }
  out.size = static_cast<int64_t>(fs::file_size(p.path, ec));
  out.mtime = file_mtime(p.path);
  auto sha = catalog::sha256_file(p.path);
  if (!sha) return std::unexpected(sha.error());
  out.sha256 = *sha;
  auto parsed = parse_file(p.path, options.parsing);
  if (!parsed) {
    out.status = "gone";
    return out;
  }
  out.doc = std::move(*parsed);
  ChunkOptions chunking = options.chunking;
  TokenCounter counter = approximate_tokens;
  if (embedder) {
    chunking.max_tokens = std::min(chunking.max_tokens, embedder->max_chunk_tokens());
    counter = [embedder](std::string_view piece) { return embedder->count_tokens(piece); };
  }
  out.chunks = chunk_document(out.doc, chunking, counter);
  if (embedder) {
    for (const Chunk& c : out.chunks) {
      auto v =
          embedder->embed(std::string_view(out.doc.text).substr(c.start, c.end - c.start), false);
      if (!v) return fail(v.error().kind, p.path + ": embedding failed: " + v.error().message);
      out.vectors.push_back(std::move(*v));
    }
  }
  return out;
}

Status stage(sqlite3* db, const Pending& p, const Staged& s) {
  sql::Stmt old_vectors(db,
                        "DELETE FROM reindex_vectors WHERE chunk_id IN "
                        "(SELECT id FROM reindex_chunks WHERE document_id = ?)");
  sql::Stmt old_chunks(db, "DELETE FROM reindex_chunks WHERE document_id = ?");
  if (old_vectors.bind(1, p.id).step() != SQLITE_DONE ||
      old_chunks.bind(1, p.id).step() != SQLITE_DONE)
    return std::unexpected(sql::error(db, "clearing a staged document"));
  sql::Stmt doc(db,
                "INSERT OR REPLACE INTO reindex_docs(document_id, source_sha, sha256, size, mtime, "
                "status, reason, chunk_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  doc.bind(1, p.id).bind(2, p.sha256).bind(3, s.sha256).bind(4, s.size).bind(5, s.mtime);
  doc.bind(6, s.status).bind(7, s.reason).bind(8, static_cast<int64_t>(s.chunks.size()));
  if (doc.step() != SQLITE_DONE) return std::unexpected(sql::error(db, "staging a document"));
  sql::Stmt chunk(db,
                  "INSERT INTO reindex_chunks(document_id, ord, text, char_start, char_end, page, "
                  "heading, n_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
  sql::Stmt vec(db, "INSERT INTO reindex_vectors(chunk_id, embedding) VALUES (?, ?)");
  for (size_t i = 0; i < s.chunks.size(); ++i) {
    const Chunk& c = s.chunks[i];
    const std::string_view text(s.doc.text.data() + c.start, static_cast<size_t>(c.end - c.start));
    chunk.reset();
    chunk.bind(1, p.id).bind(2, static_cast<int64_t>(i)).bind(3, text).bind(4, c.start);
    chunk.bind(5, c.end).bind(6, static_cast<int64_t>(c.page)).bind(7, c.heading);
    chunk.bind(8, static_cast<int64_t>(c.n_tokens));
    if (chunk.step() != SQLITE_DONE) return std::unexpected(sql::error(db, "staging a chunk"));
    if (i < s.vectors.size()) {
      vec.reset();
      vec.bind(1, sqlite3_last_insert_rowid(db))
          .bind_blob(2, s.vectors[i].data(), s.vectors[i].size() * sizeof(float));
      if (vec.step() != SQLITE_DONE) return std::unexpected(sql::error(db, "staging a vector"));
    }
  }
  return ok();
}

// Runs `body` in BEGIN IMMEDIATE ... COMMIT, rolling back when it fails.
Status transaction(sqlite3* db, const std::function<Status()>& body) {
  if (auto s = sql::exec(db, "BEGIN IMMEDIATE"); !s) return s;
  Status s = body();
  if (!s) {
    (void)sql::exec(db, "ROLLBACK");
    return s;
  }
  return sql::exec(db, "COMMIT");
}

// Indexed documents with no staged row made from their current content.
Result<std::vector<Pending>> pending_documents(sqlite3* db) {
  sql::Stmt s(db,
              "SELECT d.id, d.path, d.sha256 FROM documents d WHERE d.status = 'indexed' AND NOT "
              "EXISTS (SELECT 1 FROM reindex_docs r WHERE r.document_id = d.id AND r.source_sha = "
              "d.sha256) ORDER BY d.path");
  std::vector<Pending> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(Pending{s.int64(0), s.text(1), s.text(2)});
  if (rc != SQLITE_DONE) return std::unexpected(sql::error(db, "listing documents to reindex"));
  return out;
}

constexpr const char* kSwap = R"sql(
DELETE FROM vectors;
DELETE FROM chunks_fts;
DELETE FROM chunks;
DELETE FROM reindex_chunks WHERE document_id NOT IN (SELECT id FROM documents);
INSERT INTO chunks(id, document_id, ord, text, char_start, char_end, page, heading, n_tokens)
  SELECT id, document_id, ord, text, char_start, char_end, page, heading, n_tokens
  FROM reindex_chunks;
INSERT INTO chunks_fts(rowid, text) SELECT id, text FROM chunks;
INSERT INTO vectors(chunk_id, embedding)
  SELECT v.chunk_id, v.embedding FROM reindex_vectors v JOIN chunks c ON c.id = v.chunk_id;
DELETE FROM documents WHERE id IN (SELECT document_id FROM reindex_docs WHERE status = 'gone');
UPDATE documents SET sha256 = r.sha256, size = r.size, mtime = r.mtime,
  chunk_count = r.chunk_count FROM reindex_docs r WHERE r.document_id = documents.id;
)sql";

}  // namespace

Result<ReindexReport> Collection::reindex(Embedder* embedder, const ReindexOptions& options) {
  EmbedderIdentity target;
  target.model = "none";
  if (embedder) target = embedder->identity();
  const std::string key = target_key(target, options.add.chunking);
  ReindexReport report;
  {
    std::lock_guard lock(write_mutex_);
    auto s = transaction(db_, [&]() -> Status {
      bool other_target = false;
      {  // DROP TABLE fails while a statement of the connection is still active
        sql::Stmt get(db_, "SELECT value FROM meta WHERE key = 'reindex.target'");
        other_target = get.step() == SQLITE_ROW && get.text(0) != key;
      }
      if (other_target) {
        // Staged for another embedder or chunking: that work cannot be reused.
        if (auto d = sql::exec(db_, kDropStaging); !d) return d;
      }
      if (auto c = sql::exec(db_, kStaging); !c) return c;
      sql::Stmt put(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES ('reindex.target', ?)");
      if (put.bind(1, key).step() != SQLITE_DONE)
        return std::unexpected(sql::error(db_, "recording the reindex target"));
      sql::Stmt count(db_, "SELECT count(*) FROM reindex_docs");
      if (count.step() == SQLITE_ROW) report.already_staged = static_cast<int>(count.int64(0));
      return ok();
    });
    if (!s) return std::unexpected(s.error());
  }

  // Stage until nothing is pending, then swap; `add` may index documents meanwhile (with the
  // old embedder): the swap checks under its lock and, if one slipped in, stages it first.
  for (;;) {
    for (;;) {
      Result<std::vector<Pending>> pending = std::unexpected(Error{});
      {
        std::lock_guard lock(write_mutex_);
        pending = pending_documents(db_);
      }
      if (!pending) return std::unexpected(pending.error());
      if (pending->empty()) break;
      for (const Pending& p : *pending) {
        if (options.max_documents > 0 && report.staged >= options.max_documents) return report;
        auto prepared = prepare(p, embedder, options.add);
        if (!prepared) return std::unexpected(prepared.error());
        if (prepared->status == "gone")
          ++report.gone;
        else if (prepared->sha256 != p.sha256)
          ++report.changed;
        std::lock_guard lock(write_mutex_);
        if (auto s = transaction(db_, [&] { return stage(db_, p, *prepared); }); !s)
          return std::unexpected(s.error());
        ++report.staged;
      }
    }
    std::lock_guard lock(write_mutex_);
    auto s = transaction(db_, [&]() -> Status {
      auto left = pending_documents(db_);
      if (!left) return std::unexpected(left.error());
      if (!left->empty()) return ok();
      if (auto e = sql::exec(db_, kSwap); !e) return e;
      {
        if (auto stored = store_embedder(target); !stored) return stored;
        sql::Stmt count(db_, "SELECT count(*) FROM chunks");
        if (count.step() == SQLITE_ROW) report.chunks = count.int64(0);
      }  // the statements end here: DROP TABLE needs none active
      if (auto d = sql::exec(db_, kDropStaging); !d) return d;
      report.swapped = true;
      return ok();
    });
    if (!s) return std::unexpected(s.error());
    if (report.swapped) return report;
  }
}

}  // namespace hearth::rag
