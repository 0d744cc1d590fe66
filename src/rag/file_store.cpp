#include "rag/file_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>

#include "rag/multipart.h"
#include "server/sqlite_util.h"

namespace hearth::rag {
namespace sql = server::sql;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS files(
  id TEXT PRIMARY KEY,
  filename TEXT NOT NULL,
  purpose TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  stored_name TEXT NOT NULL);
)sql";

constexpr const char* kTempPrefix = ".tmp-";

std::string new_file_id() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  static const char* kHex = "0123456789abcdef";
  std::string id = "file-";
  for (int i = 0; i < 24; ++i) id += kHex[rng() & 15];
  return id;
}

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status write_all(int fd, std::string_view bytes, const fs::path& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      const ErrorKind kind = errno == ENOSPC ? ErrorKind::kResourceExhausted : ErrorKind::kInternal;
      return fail(kind, "cannot write " + path.string() + ": " + std::strerror(errno));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

FileRecord row_of(const sql::Stmt& s, const fs::path& dir) {
  FileRecord r;
  r.id = s.text(0);
  r.filename = s.text(1);
  r.purpose = s.text(2);
  r.bytes = s.int64(3);
  r.created_at = s.int64(4);
  r.path = dir / s.text(5);
  return r;
}

}  // namespace

bool valid_file_id(std::string_view id) {
  if (id.size() != 29 || id.substr(0, 5) != "file-") return false;
  for (char c : id.substr(5))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string stored_extension(std::string_view filename) {
  const size_t dot = filename.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return "";
  const std::string_view ext = filename.substr(dot + 1);
  if (ext.empty() || ext.size() > 10) return "";
  std::string out = ".";
  for (char c : ext) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return "";
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

Result<std::unique_ptr<FileStore>> FileStore::open(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return unavailable("cannot create " + dir.string() + ": " + ec.message());
  std::unique_ptr<FileStore> store(new FileStore());
  store->dir_ = dir;
  store->canonical_dir_ = fs::weakly_canonical(dir, ec);
  const fs::path db_path = dir / "files.sqlite";
  if (sqlite3_open_v2(db_path.c_str(), &store->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK)
    return unavailable("cannot open " + db_path.string());
  sqlite3_busy_timeout(store->db_, 30000);
  for (const char* s : {"PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL", kSchema}) {
    if (auto st = sql::exec(store->db_, s); !st) return std::unexpected(st.error());
  }
  // Temp files are only ever left by a crash between write and rename.
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    if (it->path().filename().string().starts_with(kTempPrefix)) {
      std::error_code ignored;
      fs::remove(it->path(), ignored);
    }
  }
  return store;
}

FileStore::~FileStore() {
  sqlite3_close_v2(db_);
}

Result<FileRecord> FileStore::put(std::string_view content, std::string_view filename,
                                  std::string_view purpose, const PutOptions& options) {
  FileRecord r;
  r.id = new_file_id();
  r.filename = sanitize_filename(filename);
  r.purpose = std::string(purpose);
  r.bytes = static_cast<int64_t>(content.size());
  r.created_at = now_seconds();
  const std::string stored_name = r.id + stored_extension(r.filename);
  r.path = dir_ / stored_name;
  const fs::path temp = dir_ / (kTempPrefix + r.id);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return unavailable("cannot create " + temp.string() + ": " + std::strerror(errno));
  Status written = write_all(fd, content, temp);
  if (written && ::fsync(fd) != 0)
    written = fail(ErrorKind::kInternal, "cannot flush " + temp.string());
  ::close(fd);
  if (written && options.before_rename) written = options.before_rename();
  std::error_code ec;
  if (written) {
    fs::rename(temp, r.path, ec);
    if (ec) written = fail(ErrorKind::kInternal, "cannot rename into " + r.path.string());
  }
  if (!written) {
    fs::remove(temp, ec);
    return std::unexpected(written.error());
  }
  std::lock_guard lock(mutex_);
  sql::Stmt ins(db_,
                "INSERT INTO files(id, filename, purpose, bytes, created_at, stored_name) "
                "VALUES (?, ?, ?, ?, ?, ?)");
  ins.bind(1, r.id).bind(2, r.filename).bind(3, r.purpose).bind(4, r.bytes);
  ins.bind(5, r.created_at).bind(6, stored_name);
  if (ins.step() != SQLITE_DONE) {
    Error e = sql::error(db_, "recording the file");
    fs::remove(r.path, ec);
    return std::unexpected(e);
  }
  return r;
}

Result<FileRecord> FileStore::get(std::string_view id) const {
  if (!valid_file_id(id)) return not_found("No such file: '" + std::string(id) + "'");
  std::lock_guard lock(mutex_);
  sql::Stmt s(
      db_, "SELECT id, filename, purpose, bytes, created_at, stored_name FROM files WHERE id = ?");
  const int rc = s.bind(1, id).step();
  if (rc == SQLITE_ROW) return row_of(s, dir_);
  if (rc == SQLITE_DONE) return not_found("No such file: '" + std::string(id) + "'");
  return std::unexpected(sql::error(db_, "reading a file record"));
}

Result<std::vector<FileRecord>> FileStore::list() const {
  std::lock_guard lock(mutex_);
  sql::Stmt s(db_,
              "SELECT id, filename, purpose, bytes, created_at, stored_name FROM files "
              "ORDER BY created_at DESC, rowid DESC");
  std::vector<FileRecord> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back(row_of(s, dir_));
  if (rc != SQLITE_DONE) return std::unexpected(sql::error(db_, "listing files"));
  return out;
}

Status FileStore::remove(std::string_view id) {
  auto record = get(id);
  if (!record) return std::unexpected(record.error());
  std::lock_guard lock(mutex_);
  sql::Stmt del(db_, "DELETE FROM files WHERE id = ?");
  if (del.bind(1, id).step() != SQLITE_DONE)
    return std::unexpected(sql::error(db_, "deleting a file record"));
  // The row goes first: a file without a row is invisible; a row without its file would not be.
  std::error_code ec;
  fs::remove(record->path, ec);
  return ok();
}

std::optional<std::string> FileStore::id_of_path(const fs::path& path) const {
  std::error_code ec;
  const fs::path parent = fs::weakly_canonical(path.parent_path(), ec);
  if (ec || parent != canonical_dir_) return std::nullopt;
  const std::string leaf = path.filename().string();
  const std::string id = leaf.substr(0, std::min<size_t>(29, leaf.size()));
  if (!valid_file_id(id)) return std::nullopt;
  return id;
}

}  // namespace hearth::rag
