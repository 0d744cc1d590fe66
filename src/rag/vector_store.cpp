#include "rag/vector_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <set>

#include "server/sqlite_util.h"

namespace hearth::rag {
namespace sql = server::sql;
namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace {

constexpr const char* kStoreSchema = R"sql(
CREATE TABLE IF NOT EXISTS vector_store_files(
  file_id TEXT PRIMARY KEY,
  path TEXT NOT NULL,
  filename TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  status TEXT NOT NULL,
  error_code TEXT NOT NULL DEFAULT '',
  error_message TEXT NOT NULL DEFAULT '',
  attributes TEXT NOT NULL DEFAULT 'null',
  usage_bytes INTEGER NOT NULL DEFAULT 0);
)sql";

constexpr const char* kLocalPrefix = "local:";

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string random_hex(int n) {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < n; ++i) out += kHex[rng() & 15];
  return out;
}

// A second connection to a collection's database for the tables a vector store adds (the
// Collection keeps its own connection private). WAL lets both be open at once.
class StoreDb {
 public:
  static Result<std::unique_ptr<StoreDb>> open(const fs::path& path) {
    std::unique_ptr<StoreDb> db(new StoreDb());
    if (sqlite3_open_v2(path.c_str(), &db->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX,
                        nullptr) != SQLITE_OK)
      return unavailable("cannot open " + path.string());
    sqlite3_busy_timeout(db->db_, 30000);
    if (auto s = sql::exec(db->db_, kStoreSchema); !s) return std::unexpected(s.error());
    return db;
  }
  ~StoreDb() { sqlite3_close_v2(db_); }
  sqlite3* get() const { return db_; }

  std::optional<std::string> meta(const char* key) const {
    sql::Stmt s(db_, "SELECT value FROM meta WHERE key = ?");
    if (s.bind(1, std::string_view(key)).step() == SQLITE_ROW) return s.text(0);
    return std::nullopt;
  }
  Status set_meta(const char* key, const std::string& value) {
    sql::Stmt s(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)");
    if (s.bind(1, std::string_view(key)).bind(2, value).step() != SQLITE_DONE)
      return std::unexpected(sql::error(db_, "writing the store's metadata"));
    return ok();
  }

  // Rows of vector_store_files, keyed by document path.
  Result<std::map<std::string, VectorStoreFile>> rows() const {
    sql::Stmt s(db_,
                "SELECT file_id, path, filename, created_at, status, error_code, error_message, "
                "attributes, usage_bytes FROM vector_store_files");
    std::map<std::string, VectorStoreFile> out;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      VectorStoreFile f;
      f.file_id = s.text(0);
      f.filename = s.text(2);
      f.created_at = s.int64(3);
      f.status = s.text(4);
      f.error_code = s.text(5);
      f.error_message = s.text(6);
      f.attributes = json::parse(s.text(7), nullptr, /*allow_exceptions=*/false);
      if (f.attributes.is_discarded()) f.attributes = nullptr;
      f.usage_bytes = s.int64(8);
      out[s.text(1)] = std::move(f);
    }
    if (rc != SQLITE_DONE) return std::unexpected(sql::error(db_, "listing the store's files"));
    return out;
  }

  Status put_row(const std::string& path, const VectorStoreFile& f) {
    sql::Stmt s(db_,
                "INSERT OR REPLACE INTO vector_store_files(file_id, path, filename, created_at, "
                "status, error_code, error_message, attributes, usage_bytes) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, f.file_id).bind(2, path).bind(3, f.filename).bind(4, f.created_at);
    s.bind(5, f.status).bind(6, f.error_code).bind(7, f.error_message);
    s.bind(8, f.attributes.dump()).bind(9, f.usage_bytes);
    if (s.step() != SQLITE_DONE) return std::unexpected(sql::error(db_, "recording the file"));
    return ok();
  }

  Status delete_row(const std::string& file_id) {
    sql::Stmt s(db_, "DELETE FROM vector_store_files WHERE file_id = ?");
    if (s.bind(1, file_id).step() != SQLITE_DONE)
      return std::unexpected(sql::error(db_, "removing the file"));
    return ok();
  }

  int64_t first_indexed_at() const {
    sql::Stmt s(db_, "SELECT min(indexed_at) FROM documents");
    return s.step() == SQLITE_ROW ? s.int64(0) : 0;
  }

 private:
  StoreDb() = default;
  sqlite3* db_ = nullptr;
};

struct Opened {
  std::string name;
  std::unique_ptr<Collection> collection;
  std::unique_ptr<StoreDb> db;
};

Result<Opened> open_store(std::string_view store_id) {
  auto name = collection_of_store_id(store_id);
  if (!name) return std::unexpected(name.error());
  auto c = Collection::open(*name, /*create=*/false);
  if (!c) {
    if (c.error().kind == ErrorKind::kNotFound)
      return not_found("No vector store found with id '" + std::string(store_id) + "'.");
    return std::unexpected(c.error());
  }
  auto db = StoreDb::open((*c)->path());
  if (!db) return std::unexpected(db.error());
  return Opened{*name, std::move(*c), std::move(*db)};
}

int64_t file_mtime_seconds(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_mtim.tv_sec) : 0;
}

}  // namespace

std::string vector_store_id(const std::string& collection) {
  return "vs_" + collection;
}

Result<std::string> collection_of_store_id(std::string_view id) {
  if (!id.starts_with("vs_") || !validate_collection_name(std::string(id.substr(3))))
    return not_found("No vector store found with id '" + std::string(id) + "'.");
  return std::string(id.substr(3));
}

std::string collection_name_for(std::string_view name,
                                const std::function<bool(const std::string&)>& taken) {
  const std::string whole(name);
  if (validate_collection_name(whole) && !taken(whole)) return whole;
  std::string slug;
  for (char c : name) {
    if (slug.size() >= 40) break;
    const bool keep =
        std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    slug += keep ? c : '-';
  }
  while (!slug.empty() && (slug.front() == '.' || slug.front() == '-')) slug.erase(0, 1);
  if (!slug.empty() && !taken(slug)) return slug;  // "My docs" -> "My-docs"
  for (;;) {
    const std::string candidate = (slug.empty() ? "store" : slug) + "-" + random_hex(8);
    if (!taken(candidate)) return candidate;
  }
}

Result<std::unique_ptr<VectorStores>> VectorStores::open(VectorStoresOptions options) {
  std::unique_ptr<VectorStores> stores(new VectorStores());
  auto files = FileStore::open(options.files_dir);
  if (!files) return std::unexpected(files.error());
  stores->files_ = std::move(*files);
  stores->options_ = std::move(options);
  return stores;
}

Result<Embedder*> VectorStores::embedder_for(Collection& c) const {
  auto stored = c.embedder_identity();
  if (!stored) return std::unexpected(stored.error());
  std::string name, path;
  if (*stored) {
    if ((*stored)->model == "none") return static_cast<Embedder*>(nullptr);
    name = (*stored)->model;
    path = (*stored)->path;
  } else {
    if (options_.embedder_path.empty()) return static_cast<Embedder*>(nullptr);
    name = options_.embedder_name;
    path = options_.embedder_path.string();
  }
  std::lock_guard lock(embedders_mutex_);
  auto it = embedders_.find(path);
  if (it != embedders_.end()) return it->second.get();
  auto loaded = Embedder::load(name, path);
  if (!loaded)
    return std::unexpected(Error{"the embedding model '" + name + "' (" + path +
                                     ") cannot be loaded: " + loaded.error().message,
                                 ErrorKind::kUnavailable});
  Embedder* e = loaded->get();
  embedders_[path] = std::move(*loaded);
  return e;
}

Result<VectorStoreInfo> VectorStores::info_of(const std::string& collection) const {
  auto opened = open_store(vector_store_id(collection));
  if (!opened) return std::unexpected(opened.error());
  auto info = opened->collection->info();
  if (!info) return std::unexpected(info.error());
  VectorStoreInfo out;
  out.id = vector_store_id(collection);
  out.collection = collection;
  out.name = opened->db->meta("vector_store.name").value_or(collection);
  if (auto created = opened->db->meta("vector_store.created_at")) {
    out.created_at = std::atoll(created->c_str());
  } else {  // a collection the CLI made: when it first indexed, else its file's time
    out.created_at = opened->db->first_indexed_at();
    if (out.created_at == 0) out.created_at = file_mtime_seconds(opened->collection->path());
  }
  if (auto metadata = opened->db->meta("vector_store.metadata")) {
    out.metadata = json::parse(*metadata, nullptr, false);
    if (out.metadata.is_discarded()) out.metadata = nullptr;
  }
  out.usage_bytes = info->bytes;
  out.completed = info->documents;
  out.failed = info->skipped;
  return out;
}

Result<VectorStoreInfo> VectorStores::create(std::string_view name, const json& metadata,
                                             const std::vector<std::string>& file_ids) {
  for (const auto& id : file_ids) {  // all or nothing: an unknown id creates no store
    if (auto f = files_->get(id); !f) return std::unexpected(f.error());
  }
  static std::mutex create_mutex;  // two creates with one name in this process get two stores
  std::string collection;
  {
    std::lock_guard lock(create_mutex);
    const auto existing = list_collections();
    const std::set<std::string> taken(existing.begin(), existing.end());
    collection =
        collection_name_for(name, [&](const std::string& n) { return taken.count(n) > 0; });
    auto c = Collection::open(collection, /*create=*/true);
    if (!c) return std::unexpected(c.error());
    Embedder* embedder = nullptr;
    if (auto e = embedder_for(**c); e) {
      embedder = *e;
    } else {
      std::fprintf(stderr, "hearth serve: vector store %s is BM25-only: %s\n", collection.c_str(),
                   e.error().message.c_str());
    }
    if (auto s = (*c)->bind_embedder(embedder); !s) return std::unexpected(s.error());
    auto db = StoreDb::open((*c)->path());
    if (!db) return std::unexpected(db.error());
    for (const auto& [key, value] :
         {std::pair<const char*, std::string>{"vector_store.name", std::string(name)},
          {"vector_store.created_at", std::to_string(now_seconds())},
          {"vector_store.metadata", metadata.dump()}}) {
      if (auto s = (*db)->set_meta(key, value); !s) return std::unexpected(s.error());
    }
  }
  const std::string id = vector_store_id(collection);
  for (const auto& file_id : file_ids) {
    if (auto f = attach(id, file_id, nullptr); !f) return std::unexpected(f.error());
  }
  return info_of(collection);
}

Result<std::vector<VectorStoreInfo>> VectorStores::list() const {
  std::vector<VectorStoreInfo> out;
  for (const auto& name : list_collections()) {
    auto info = info_of(name);
    if (info) out.push_back(std::move(*info));  // one unreadable collection hides only itself
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.created_at > b.created_at; });
  return out;
}

Result<VectorStoreInfo> VectorStores::get(std::string_view store_id) const {
  auto name = collection_of_store_id(store_id);
  if (!name) return std::unexpected(name.error());
  return info_of(*name);
}

Status VectorStores::remove(std::string_view store_id) {
  auto name = collection_of_store_id(store_id);
  if (!name) return std::unexpected(name.error());
  auto s = delete_collection(*name);
  if (!s && s.error().kind == ErrorKind::kNotFound)
    return not_found("No vector store found with id '" + std::string(store_id) + "'.");
  return s;
}

Result<VectorStoreInfo> VectorStores::update(std::string_view store_id,
                                             const std::optional<std::string>& name,
                                             const json& metadata) {
  auto opened = open_store(store_id);
  if (!opened) return std::unexpected(opened.error());
  if (name) {
    if (auto s = opened->db->set_meta("vector_store.name", *name); !s)
      return std::unexpected(s.error());
  }
  if (!metadata.is_null()) {
    if (auto s = opened->db->set_meta("vector_store.metadata", metadata.dump()); !s)
      return std::unexpected(s.error());
  }
  return info_of(opened->name);
}

Result<VectorStoreFile> VectorStores::attach(std::string_view store_id, std::string_view file_id,
                                             const json& attributes) {
  if (auto s = validate_attributes(attributes); !s) return std::unexpected(s.error());
  auto opened = open_store(store_id);
  if (!opened) return std::unexpected(opened.error());
  auto record = files_->get(file_id);
  if (!record) return std::unexpected(record.error());
  VectorStoreFile f;
  f.file_id = record->id;
  f.vector_store_id = std::string(store_id);
  f.filename = record->filename;
  f.created_at = now_seconds();
  f.usage_bytes = record->bytes;
  f.attributes = attributes;
  std::string path = record->path.string();
  auto embedder = embedder_for(*opened->collection);
  if (!embedder) {
    f.status = "failed";
    f.error_code = "server_error";
    f.error_message = embedder.error().message;
  } else {
    const FileOutcome outcome = opened->collection->add_file(record->path, *embedder, AddOptions{});
    path = outcome.path;
    switch (outcome.kind) {
      case FileOutcome::kAdded:
      case FileOutcome::kUpdated:
      case FileOutcome::kUnchanged:
        // Unchanged: the same upload attached again, or a skipped one (its reason is kept).
        f.status = outcome.reason.empty() ? "completed" : "failed";
        break;
      case FileOutcome::kSkipped: f.status = "failed"; break;
      default: f.status = "failed"; f.error_code = "server_error";
    }
    if (f.status == "failed") {
      if (f.error_code.empty()) f.error_code = "invalid_file";
      f.error_message = outcome.reason;
    }
  }
  if (auto s = opened->db->put_row(path, f); !s) return std::unexpected(s.error());
  return f;
}

Result<std::vector<VectorStoreFile>> VectorStores::files_of(std::string_view store_id) const {
  auto opened = open_store(store_id);
  if (!opened) return std::unexpected(opened.error());
  auto rows = opened->db->rows();
  if (!rows) return std::unexpected(rows.error());
  auto docs = opened->collection->documents();
  if (!docs) return std::unexpected(docs.error());
  std::vector<VectorStoreFile> out;
  for (auto& [path, row] : *rows) {
    row.vector_store_id = std::string(store_id);
    out.push_back(row);
  }
  for (const DocumentRow& d : *docs) {
    if (rows->count(d.path)) continue;
    // A document the CLI added: listed under its path, read-only apart from detach.
    VectorStoreFile f;
    f.file_id = files_->id_of_path(d.path).value_or(kLocalPrefix + d.path);
    f.vector_store_id = std::string(store_id);
    f.filename = fs::path(d.path).filename().string();
    f.usage_bytes = d.size;
    f.status = d.status == "indexed" ? "completed" : "failed";
    if (f.status == "failed") {
      f.error_code = "invalid_file";
      f.error_message = d.reason;
    }
    out.push_back(std::move(f));
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.created_at > b.created_at; });
  return out;
}

Result<VectorStoreFile> VectorStores::file_of(std::string_view store_id,
                                              std::string_view file_id) const {
  auto all = files_of(store_id);
  if (!all) return std::unexpected(all.error());
  for (auto& f : *all)
    if (f.file_id == file_id) return std::move(f);
  return not_found("No file '" + std::string(file_id) + "' in vector store '" +
                   std::string(store_id) + "'.");
}

Status VectorStores::detach(std::string_view store_id, std::string_view file_id) {
  auto opened = open_store(store_id);
  if (!opened) return std::unexpected(opened.error());
  auto rows = opened->db->rows();
  if (!rows) return std::unexpected(rows.error());
  for (const auto& [path, row] : *rows) {
    if (row.file_id != file_id) continue;
    auto s = opened->collection->remove_document(path);
    if (!s && s.error().kind != ErrorKind::kNotFound) return s;  // failed ingests have no row
    return opened->db->delete_row(row.file_id);
  }
  if (file_id.starts_with(kLocalPrefix)) {
    auto s = opened->collection->remove_document(std::string(file_id.substr(6)));
    if (s || s.error().kind != ErrorKind::kNotFound) return s;
  }
  return not_found("No file '" + std::string(file_id) + "' in vector store '" +
                   std::string(store_id) + "'.");
}

Status VectorStores::detach_everywhere(std::string_view file_id) {
  for (const auto& name : list_collections()) {
    auto s = detach(vector_store_id(name), file_id);
    if (!s && s.error().kind != ErrorKind::kNotFound) return s;
  }
  return ok();
}

Result<std::vector<StoreHit>> VectorStores::search(std::string_view store_id,
                                                   const std::string& query, int k,
                                                   const std::optional<Filter>& filter) const {
  auto opened = open_store(store_id);
  if (!opened) return std::unexpected(opened.error());
  // An embedder that cannot be loaded any more leaves BM25, as `hearth rag query` does.
  auto embedder = embedder_for(*opened->collection);
  Embedder* e = embedder ? *embedder : nullptr;
  // Filters apply after retrieval, so retrieve deeper when there is one.
  const int depth = filter ? std::min(1000, std::max(200, k * 20)) : k;
  auto hits = opened->collection->query(query, depth, e);
  if (!hits) return std::unexpected(hits.error());
  auto rows = opened->db->rows();
  if (!rows) return std::unexpected(rows.error());
  // RRF gives 1/(60+1) for a first place in one list; scaled so first in all lists is 1.
  const double scale = 61.0 / (e ? 2.0 : 1.0);
  std::vector<StoreHit> out;
  for (Hit& h : *hits) {
    StoreHit s;
    if (auto it = rows->find(h.path); it != rows->end()) {
      s.file_id = it->second.file_id;
      s.filename = it->second.filename;
      s.attributes = it->second.attributes;
    } else {
      s.file_id = files_->id_of_path(h.path).value_or(kLocalPrefix + h.path);
      s.filename = fs::path(h.path).filename().string();
    }
    if (filter &&
        !filter_matches(*filter, s.attributes.is_object() ? s.attributes : json::object()))
      continue;
    s.score = std::min(1.0, h.score * scale);
    s.hit = std::move(h);
    out.push_back(std::move(s));
    if (static_cast<int>(out.size()) >= k) break;
  }
  return out;
}

}  // namespace hearth::rag
