// The HNSW index of a collection: built from a consistent snapshot of its vectors, saved beside
// the database under a name that carries the vectors' version, reused until they change.
#include <sqlite3.h>

#include <cstring>

#include "rag/collection.h"
#include "rag/read_snapshot.h"
#include "server/sqlite_util.h"

namespace hearth::rag {
namespace sql = server::sql;
namespace fs = std::filesystem;
namespace {

constexpr const char* kIndexMarker = ".hnsw-";

std::string meta_value(sqlite3* db, const char* key) {
  sql::Stmt s(db, "SELECT value FROM meta WHERE key = ?");
  return s.bind(1, std::string_view(key)).step() == SQLITE_ROW ? s.text(0) : std::string();
}

}  // namespace

void remove_vector_indexes(const fs::path& database, const std::string& keep) {
  const std::string prefix = database.filename().string() + kIndexMarker;
  std::error_code ec;
  for (auto it = fs::directory_iterator(database.parent_path(), ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) == 0 && name != keep) fs::remove(it->path(), ec);
  }
}

Result<std::shared_ptr<const HnswIndex>> Collection::vector_index(sqlite3* db) const {
  const int64_t count = std::atoll(meta_value(db, "vectors.count").c_str());
  if (count < static_cast<int64_t>(hnsw_threshold_)) return nullptr;
  const std::string key =
      meta_value(db, "collection.uid") + "-" + meta_value(db, "vectors.version");
  std::lock_guard lock(index_mutex_);
  if (index_ && index_key_ == key) return index_;
  const int64_t stored_dim = std::atoll(meta_value(db, "embedder.dimension").c_str());
  if (stored_dim <= 0) return nullptr;
  const size_t dim = static_cast<size_t>(stored_dim);
  HnswParams params;
  params.ef_search = default_ef_search(static_cast<size_t>(count));
  const std::string file_name = path_.filename().string() + kIndexMarker + key;
  const fs::path file = path_.parent_path() / file_name;
  std::error_code ec;
  if (fs::exists(file, ec)) {
    auto loaded = HnswIndex::load(file, dim, params);
    if (loaded && (*loaded)->size() == static_cast<size_t>(count)) {
      index_ = std::shared_ptr<const HnswIndex>(std::move(*loaded));
      index_key_ = key;
      return index_;
    }
    // A damaged or foreign file: build again below and replace it.
  }
  std::vector<int64_t> ids;
  std::vector<float> vectors;
  ids.reserve(static_cast<size_t>(count));
  vectors.reserve(static_cast<size_t>(count) * dim);
  sql::Stmt s(db, "SELECT chunk_id, embedding FROM vectors");
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    if (static_cast<size_t>(s.bytes(1)) != dim * sizeof(float))
      return fail(ErrorKind::kDataLoss, "a stored vector has " + std::to_string(s.bytes(1) / 4) +
                                            " dimensions, the embedder " + std::to_string(dim));
    ids.push_back(s.int64(0));
    const size_t at = vectors.size();
    vectors.resize(at + dim);
    std::memcpy(vectors.data() + at, s.blob(1), dim * sizeof(float));
  }
  if (rc != SQLITE_DONE) return std::unexpected(sql::error(db, "reading vectors for HNSW"));
  auto built = HnswIndex::build(ids, vectors, dim, params);
  if (!built) return std::unexpected(built.error());
  // Saving is an optimization for the next process: a read-only folder only costs a rebuild.
  if ((*built)->save(file)) remove_vector_indexes(path_, file_name);
  index_ = std::shared_ptr<const HnswIndex>(std::move(*built));
  index_key_ = key;
  return index_;
}

Status Collection::prepare_vector_index() const {
  auto conn = ReadSnapshot::open(path_);
  if (!conn) return std::unexpected(conn.error());
  auto index = vector_index(conn->db());
  (void)sql::exec(conn->db(), "COMMIT");
  if (!index) return std::unexpected(index.error());
  return ok();
}

}  // namespace hearth::rag
