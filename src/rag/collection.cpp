// Opening collections, ingest (add, sync, remove) and listing. Queries: collection_query.cpp.
#include "rag/collection.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>

#include "catalog/cache.h"
#include "server/sqlite_util.h"

namespace hearth::rag {
namespace sql = server::sql;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime INTEGER NOT NULL,
  type TEXT NOT NULL,
  status TEXT NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  chunk_count INTEGER NOT NULL DEFAULT 0,
  indexed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS chunks(
  id INTEGER PRIMARY KEY,
  document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  ord INTEGER NOT NULL,
  text TEXT NOT NULL,
  char_start INTEGER NOT NULL,
  char_end INTEGER NOT NULL,
  page INTEGER NOT NULL DEFAULT 0,
  heading TEXT NOT NULL DEFAULT '',
  n_tokens INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_by_document ON chunks(document_id);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS vectors(
  chunk_id INTEGER PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE,
  embedding BLOB NOT NULL);
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1');
-- What the HNSW index file is made from: a random id for this database and a version that
-- every change of the vectors bumps, so an index file is never used for other vectors.
INSERT OR IGNORE INTO meta(key, value) VALUES ('collection.uid', lower(hex(randomblob(8))));
INSERT OR IGNORE INTO meta(key, value) VALUES ('vectors.version', '0');
-- Counted once, for a collection made before the triggers (WHERE first: no scan on later opens).
INSERT INTO meta(key, value) SELECT 'vectors.count', (SELECT count(*) FROM vectors)
  WHERE NOT EXISTS (SELECT 1 FROM meta WHERE key = 'vectors.count');
CREATE TRIGGER IF NOT EXISTS vectors_added AFTER INSERT ON vectors BEGIN
  UPDATE meta SET value = CAST(value AS INTEGER) + 1
    WHERE key IN ('vectors.version', 'vectors.count');
END;
CREATE TRIGGER IF NOT EXISTS vectors_removed AFTER DELETE ON vectors BEGIN
  UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vectors.version';
  UPDATE meta SET value = CAST(value AS INTEGER) - 1 WHERE key = 'vectors.count';
END;
CREATE TRIGGER IF NOT EXISTS vectors_changed AFTER UPDATE ON vectors BEGIN
  UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'vectors.version';
END;
)sql";

int64_t mtime_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0;
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

fs::path absolute_path(const fs::path& p) {
  std::error_code ec;
  fs::path abs = fs::weakly_canonical(fs::absolute(p, ec), ec);
  return ec ? fs::absolute(p).lexically_normal() : abs;
}

Status delete_rows(sqlite3* db, int64_t doc_id) {
  sql::Stmt fts(
      db, "DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE document_id = ?)");
  sql::Stmt vec(
      db, "DELETE FROM vectors WHERE chunk_id IN (SELECT id FROM chunks WHERE document_id = ?)");
  sql::Stmt chk(db, "DELETE FROM chunks WHERE document_id = ?");
  for (sql::Stmt* s : {&fts, &vec, &chk}) {
    if (!s->ok() || s->bind(1, doc_id).step() != SQLITE_DONE)
      return std::unexpected(sql::error(db, "deleting old chunks"));
  }
  return ok();
}

std::optional<int64_t> document_id(sqlite3* db, const std::string& path) {
  sql::Stmt s(db, "SELECT id FROM documents WHERE path = ?");
  if (s.bind(1, path).step() == SQLITE_ROW) return s.int64(0);
  return std::nullopt;
}

std::string short_sha(const std::string& sha) {
  return sha.substr(0, 12);
}

std::string describe(const EmbedderIdentity& e) {
  if (e.model == "none") return "'none' (BM25 only)";
  return "'" + e.model + "' (sha256 " + short_sha(e.sha256) + "..., " +
         std::to_string(e.dimension) + " dims)";
}

}  // namespace

const char* to_string(FileOutcome::Kind kind) {
  switch (kind) {
    case FileOutcome::kAdded: return "added";
    case FileOutcome::kUpdated: return "updated";
    case FileOutcome::kUnchanged: return "unchanged";
    case FileOutcome::kSkipped: return "skipped";
    case FileOutcome::kRemoved: return "removed";
    case FileOutcome::kFailed: return "failed";
  }
  return "failed";
}

Status validate_collection_name(const std::string& name) {
  if (name.empty() || name.size() > 64)
    return invalid_input("collection name must be 1 to 64 characters (got " +
                         std::to_string(name.size()) + ")");
  if (name.front() == '.')
    return invalid_input("collection name '" + name + "' must not start with '.'");
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.'))
      return invalid_input("collection name '" + name +
                           "' may only hold letters, digits, '_', '-' and '.'");
  }
  return ok();
}

fs::path collections_dir() {
  return catalog::hearth_home() / "rag";
}

Result<std::unique_ptr<Collection>> Collection::open(const std::string& name, bool create,
                                                     const fs::path& path_override) {
  fs::path path = path_override;
  if (path.empty()) {
    if (auto s = validate_collection_name(name); !s) return std::unexpected(s.error());
    path = collections_dir() / (name + ".sqlite");
  }
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    if (!create)
      return not_found("no collection '" + name + "' (hearth rag list shows the collections)");
    fs::create_directories(path.parent_path(), ec);
    if (ec)
      return unavailable("cannot create " + path.parent_path().string() + ": " + ec.message());
  }
  std::unique_ptr<Collection> c(new Collection());
  c->name_ = name;
  c->path_ = path;
  if (sqlite3_open_v2(path.c_str(), &c->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    return unavailable("cannot open " + path.string() + ": " +
                       (c->db_ ? sqlite3_errmsg(c->db_) : "out of memory"));
  sqlite3_busy_timeout(c->db_, 30000);
  for (const char* pragma :
       {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", "PRAGMA foreign_keys = ON"}) {
    if (auto s = sql::exec(c->db_, pragma); !s) return std::unexpected(s.error());
  }
  std::lock_guard lock(c->write_mutex_);
  if (auto s = sql::exec(c->db_, kSchema); !s) {
    if (std::string(s.error().message).find("fts5") != std::string::npos)
      return unsupported("this SQLite lacks FTS5, which hearth rag needs: " + s.error().message);
    return std::unexpected(
        Error{"cannot set up " + path.string() + ": " + s.error().message, ErrorKind::kDataLoss});
  }
  return c;
}

Collection::~Collection() {
  sqlite3_close_v2(db_);
}

Result<std::optional<EmbedderIdentity>> Collection::embedder_identity() const {
  std::lock_guard lock(write_mutex_);
  sql::Stmt s(db_, "SELECT key, value FROM meta WHERE key LIKE 'embedder.%'");
  EmbedderIdentity e;
  bool any = false;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    any = true;
    const std::string key = s.text(0).substr(9), value = s.text(1);
    if (key == "model")
      e.model = value;
    else if (key == "path")
      e.path = value;
    else if (key == "sha256")
      e.sha256 = value;
    else if (key == "dimension")
      e.dimension = std::atoi(value.c_str());
    else if (key == "pooling")
      e.pooling = value;
    else if (key == "query_prefix")
      e.query_prefix = value;
    else if (key == "document_prefix")
      e.document_prefix = value;
    else if (key == "max_tokens")
      e.max_tokens = std::atoi(value.c_str());
  }
  if (rc != SQLITE_DONE) return std::unexpected(sql::error(db_, "reading the embedder"));
  if (!any) return std::optional<EmbedderIdentity>();
  return std::optional<EmbedderIdentity>(e);
}

Status Collection::bind_embedder(const Embedder* embedder) {
  auto stored = embedder_identity();
  if (!stored) return std::unexpected(stored.error());
  EmbedderIdentity wanted;
  wanted.model = "none";
  if (embedder) wanted = embedder->identity();
  if (*stored) {
    const EmbedderIdentity& have = **stored;
    const bool same = have.model == "none"
                          ? wanted.model == "none"
                          : wanted.model != "none" && have.sha256 == wanted.sha256 &&
                                have.dimension == wanted.dimension;
    if (same) return ok();
    return fail(ErrorKind::kConflict,
                "collection '" + name_ + "' was indexed with embedder " + describe(have) +
                    ", not " + describe(wanted) + "; use --embed " + have.model +
                    ", or `hearth rag reindex -c " + name_ + " --embed MODEL` to migrate");
  }
  std::lock_guard lock(write_mutex_);
  if (auto s = sql::exec(db_, "BEGIN IMMEDIATE"); !s) return s;
  if (auto stored = store_embedder(wanted); !stored) {
    (void)sql::exec(db_, "ROLLBACK");
    return stored;
  }
  return sql::exec(db_, "COMMIT");
}

Status Collection::store_embedder(const EmbedderIdentity& identity) {
  sql::Stmt put(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
  const std::pair<const char*, std::string> rows[] = {
      {"embedder.model", identity.model},
      {"embedder.path", identity.path},
      {"embedder.sha256", identity.sha256},
      {"embedder.dimension", std::to_string(identity.dimension)},
      {"embedder.pooling", identity.pooling},
      {"embedder.query_prefix", identity.query_prefix},
      {"embedder.document_prefix", identity.document_prefix},
      {"embedder.max_tokens", std::to_string(identity.max_tokens)}};
  for (const auto& [key, value] : rows) {
    put.reset();
    if (put.bind(1, std::string_view(key)).bind(2, value).step() != SQLITE_DONE)
      return std::unexpected(sql::error(db_, "recording the embedder"));
  }
  return ok();
}

Status Collection::write_document(const DocumentRow& row, const ParsedDocument* doc,
                                  const std::vector<Chunk>& chunks,
                                  const std::vector<std::vector<float>>& vectors,
                                  const AddOptions& options) {
  std::lock_guard lock(write_mutex_);
  if (auto s = sql::exec(db_, "BEGIN IMMEDIATE"); !s) return s;
  auto body = [&]() -> Status {
    if (auto id = document_id(db_, row.path)) {
      if (auto s = delete_rows(db_, *id); !s) return s;
    }
    sql::Stmt doc_stmt(db_,
                       "INSERT INTO documents(path, sha256, size, mtime, type, status, reason, "
                       "chunk_count, indexed_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET sha256 "
                       "= excluded.sha256, "
                       "size = excluded.size, mtime = excluded.mtime, type = excluded.type, status "
                       "= excluded.status, "
                       "reason = excluded.reason, chunk_count = excluded.chunk_count, indexed_at = "
                       "excluded.indexed_at");
    doc_stmt.bind(1, row.path)
        .bind(2, row.sha256)
        .bind(3, row.size)
        .bind(4, row.mtime)
        .bind(5, row.type);
    doc_stmt.bind(6, row.status)
        .bind(7, row.reason)
        .bind(8, static_cast<int64_t>(chunks.size()))
        .bind(9, now_seconds());
    if (doc_stmt.step() != SQLITE_DONE)
      return std::unexpected(sql::error(db_, "writing the document"));
    const auto doc_id = document_id(db_, row.path);
    if (!doc_id) return fail("document row vanished inside its transaction");
    sql::Stmt chunk_stmt(
        db_,
        "INSERT INTO chunks(document_id, ord, text, char_start, char_end, page, heading, n_tokens) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    sql::Stmt fts_stmt(db_, "INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)");
    sql::Stmt vec_stmt(db_, "INSERT INTO vectors(chunk_id, embedding) VALUES (?, ?)");
    for (size_t i = 0; i < chunks.size(); ++i) {
      const Chunk& c = chunks[i];
      const std::string_view text(doc->text.data() + c.start, static_cast<size_t>(c.end - c.start));
      chunk_stmt.reset();
      chunk_stmt.bind(1, *doc_id)
          .bind(2, static_cast<int64_t>(i))
          .bind(3, text)
          .bind(4, c.start)
          .bind(5, c.end);
      chunk_stmt.bind(6, static_cast<int64_t>(c.page))
          .bind(7, c.heading)
          .bind(8, static_cast<int64_t>(c.n_tokens));
      if (chunk_stmt.step() != SQLITE_DONE)
        return std::unexpected(sql::error(db_, "writing a chunk"));
      const int64_t chunk_id = sqlite3_last_insert_rowid(db_);
      fts_stmt.reset();
      if (fts_stmt.bind(1, chunk_id).bind(2, text).step() != SQLITE_DONE)
        return std::unexpected(sql::error(db_, "indexing a chunk"));
      if (i < vectors.size()) {
        vec_stmt.reset();
        vec_stmt.bind(1, chunk_id)
            .bind_blob(2, vectors[i].data(), vectors[i].size() * sizeof(float));
        if (vec_stmt.step() != SQLITE_DONE)
          return std::unexpected(sql::error(db_, "writing a vector"));
      }
      if (options.after_chunk_written) {
        if (auto s = options.after_chunk_written(static_cast<int>(i)); !s) return s;
      }
    }
    return ok();
  };
  Status result = body();
  if (!result) {
    (void)sql::exec(db_, "ROLLBACK");
    return result;
  }
  return sql::exec(db_, "COMMIT");
}

FileOutcome Collection::add_file(const fs::path& file, Embedder* embedder,
                                 const AddOptions& options) {
  FileOutcome out;
  const fs::path abs = absolute_path(file);
  out.path = abs.string();
  std::error_code ec;
  if (!fs::is_regular_file(abs, ec)) {
    out.kind = FileOutcome::kFailed;
    out.reason = fs::exists(abs, ec) ? "not a regular file" : "no such file or directory";
    return out;
  }
  if (auto s = bind_embedder(embedder); !s) {
    out.kind = FileOutcome::kFailed;
    out.reason = s.error().message;
    return out;
  }
  DocumentRow row;
  row.path = out.path;
  row.size = static_cast<int64_t>(fs::file_size(abs, ec));
  row.mtime = mtime_of(abs);
  row.type = to_string(detect_type(abs));
  std::optional<DocumentRow> previous;
  {
    std::lock_guard lock(write_mutex_);
    sql::Stmt s(db_, "SELECT sha256, reason, chunk_count FROM documents WHERE path = ?");
    if (s.bind(1, row.path).step() == SQLITE_ROW) {
      previous = DocumentRow{};
      previous->sha256 = s.text(0);
      previous->reason = s.text(1);
      previous->chunks = static_cast<int>(s.int64(2));
    }
  }
  ParsedDocument doc;
  std::vector<Chunk> chunks;
  std::vector<std::vector<float>> vectors;
  auto parsed = Result<ParsedDocument>(std::unexpected(Error{}));
  if (row.size > options.parsing.max_file_bytes) {
    parsed = parse_file(abs, options.parsing);  // refuses before reading, with the reason
  } else {
    auto sha = catalog::sha256_file(abs);  // streamed: bounded memory
    if (!sha) {
      out.kind = FileOutcome::kFailed;
      out.reason = sha.error().message;
      return out;
    }
    row.sha256 = *sha;
    if (previous && previous->sha256 == row.sha256) {
      out.kind = FileOutcome::kUnchanged;
      out.chunks = previous->chunks;
      out.reason = previous->reason;
      return out;
    }
    parsed = parse_file(abs, options.parsing);
  }
  if (!parsed) {
    row.status = "skipped";
    row.reason = parsed.error().message;
    out.kind = FileOutcome::kSkipped;
    out.reason = row.reason;
  } else {
    doc = std::move(*parsed);
    row.status = "indexed";
    ChunkOptions chunking = options.chunking;
    TokenCounter counter = approximate_tokens;
    if (embedder) {
      chunking.max_tokens = std::min(chunking.max_tokens, embedder->max_chunk_tokens());
      counter = [embedder](std::string_view piece) { return embedder->count_tokens(piece); };
    }
    chunks = chunk_document(doc, chunking, counter);
    if (embedder) {
      for (const Chunk& c : chunks) {
        bool cut = false;
        auto v = embedder->embed(std::string_view(doc.text).substr(c.start, c.end - c.start), false,
                                 &cut);
        if (!v) {
          out.kind = FileOutcome::kFailed;
          out.reason = "embedding failed: " + v.error().message;
          return out;
        }
        out.truncated = out.truncated || cut;
        vectors.push_back(std::move(*v));
      }
    }
    out.kind = previous ? FileOutcome::kUpdated : FileOutcome::kAdded;
    out.chunks = static_cast<int>(chunks.size());
  }
  if (auto s = write_document(row, parsed ? &doc : nullptr, chunks, vectors, options); !s) {
    out.kind = FileOutcome::kFailed;
    out.reason = s.error().message;
    out.chunks = 0;
  }
  return out;
}

std::vector<FileOutcome> Collection::add_paths(const std::vector<fs::path>& paths,
                                               Embedder* embedder, const AddOptions& options) {
  std::vector<FileOutcome> out;
  for (const fs::path& p : paths) {
    std::error_code ec;
    if (!fs::is_directory(p, ec)) {
      out.push_back(add_file(p, embedder, options));
      continue;
    }
    std::vector<fs::path> files;
    auto it =
        fs::recursive_directory_iterator(p, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string leaf = it->path().filename().string();
      if (!leaf.empty() && leaf.front() == '.') {  // .git, .cache, dotfiles
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      // Never index the collection's own database (its -wal and -shm files included).
      const bool own =
          absolute_path(it->path()).string().starts_with(absolute_path(path_).string());
      if (it->is_regular_file(ec) && !own) files.push_back(it->path());
    }
    if (ec)
      out.push_back(FileOutcome{absolute_path(p).string(), FileOutcome::kFailed,
                                "cannot list: " + ec.message()});
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) out.push_back(add_file(f, embedder, options));
  }
  return out;
}

std::vector<FileOutcome> Collection::sync(Embedder* embedder, const AddOptions& options) {
  std::vector<FileOutcome> out;
  auto docs = documents();
  if (!docs) return {FileOutcome{name_, FileOutcome::kFailed, docs.error().message}};
  for (const DocumentRow& d : *docs) {
    std::error_code ec;
    if (!fs::exists(d.path, ec)) {
      auto s = remove_document(d.path);
      out.push_back(FileOutcome{d.path, s ? FileOutcome::kRemoved : FileOutcome::kFailed,
                                s ? "file is gone" : s.error().message});
      continue;
    }
    // Unchanged size and mtime: skip hashing (the common case for a large folder).
    if (static_cast<int64_t>(fs::file_size(d.path, ec)) == d.size && mtime_of(d.path) == d.mtime) {
      out.push_back(FileOutcome{d.path, FileOutcome::kUnchanged, d.reason, d.chunks});
      continue;
    }
    out.push_back(add_file(d.path, embedder, options));
  }
  return out;
}

Status Collection::remove_document(const fs::path& file) {
  const std::string path = absolute_path(file).string();
  std::lock_guard lock(write_mutex_);
  if (auto s = sql::exec(db_, "BEGIN IMMEDIATE"); !s) return s;
  auto id = document_id(db_, path);
  if (!id) {
    (void)sql::exec(db_, "ROLLBACK");
    return not_found("collection '" + name_ + "' has no document " + path);
  }
  Status s = delete_rows(db_, *id);
  if (s) {
    sql::Stmt del(db_, "DELETE FROM documents WHERE id = ?");
    if (del.bind(1, *id).step() != SQLITE_DONE)
      s = std::unexpected(sql::error(db_, "removing the document"));
  }
  if (!s) {
    (void)sql::exec(db_, "ROLLBACK");
    return s;
  }
  return sql::exec(db_, "COMMIT");
}

Result<std::vector<DocumentRow>> Collection::documents() const {
  std::lock_guard lock(write_mutex_);
  sql::Stmt s(db_,
              "SELECT path, sha256, mtime, size, type, status, reason, chunk_count FROM documents "
              "ORDER BY path");
  std::vector<DocumentRow> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    out.push_back(DocumentRow{s.text(0), s.text(1), s.int64(2), s.int64(3), s.text(4), s.text(5),
                              s.text(6), static_cast<int>(s.int64(7))});
  if (rc != SQLITE_DONE) return std::unexpected(sql::error(db_, "listing documents"));
  return out;
}

Result<CollectionInfo> Collection::info() const {
  CollectionInfo info;
  info.name = name_;
  auto e = embedder_identity();
  if (!e) return std::unexpected(e.error());
  if (*e) info.embedder = **e;
  std::lock_guard lock(write_mutex_);
  sql::Stmt s(
      db_,
      "SELECT (SELECT count(*) FROM documents WHERE status = 'indexed'), "
      "(SELECT count(*) FROM documents WHERE status != 'indexed'), (SELECT count(*) FROM chunks)");
  if (s.step() != SQLITE_ROW) return std::unexpected(sql::error(db_, "counting"));
  info.documents = s.int64(0);
  info.skipped = s.int64(1);
  info.chunks = s.int64(2);
  std::error_code ec;
  info.bytes = static_cast<int64_t>(fs::file_size(path_, ec));
  return info;
}

Status delete_collection(const std::string& name) {
  if (auto s = validate_collection_name(name); !s) return s;
  const fs::path base = collections_dir() / (name + ".sqlite");
  std::error_code ec;
  if (!fs::exists(base, ec)) return not_found("no collection '" + name + "'");
  for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(base.string() + suffix, ec);
  remove_vector_indexes(base, "");
  if (fs::exists(base)) return unavailable("cannot delete " + base.string());
  return ok();
}

std::vector<std::string> list_collections() {
  std::vector<std::string> names;
  std::error_code ec;
  for (auto it = fs::directory_iterator(collections_dir(), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec))
    if (it->path().extension() == ".sqlite") names.push_back(it->path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace hearth::rag
