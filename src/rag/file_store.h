// Uploaded files (POST /v1/files): the bytes under $HEARTH_HOME/files/, one file per upload
// named by its id (file-<24 hex>) plus a sanitized extension, and the metadata (name the
// client gave, purpose, size, time) in $HEARTH_HOME/files/files.sqlite (WAL).
//
// A stored path is built from the id alone, which this store generates, so no client input
// (a filename with "../" or separators) ever becomes part of a path. Bytes are written to a
// temporary file in the same folder, flushed and renamed into place before the row is
// inserted: a crash leaves either no file or a whole one (a stray temp file at worst, removed
// by the next open).
//
// Thread-safety: every method may be called from many threads (one mutex-guarded connection).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/status.h"

struct sqlite3;

namespace hearth::rag {

struct FileRecord {
  std::string id;        // file-<24 hex>
  std::string filename;  // sanitized (rag/multipart.h sanitize_filename)
  std::string purpose;
  int64_t bytes = 0;
  int64_t created_at = 0;      // unix seconds
  std::filesystem::path path;  // where the bytes are
};

// True for ids this store makes: "file-" and 24 lower-case hex digits.
bool valid_file_id(std::string_view id);
// The extension a stored file keeps ("notes.MD" -> ".md"), so the parser can tell its type:
// 1..10 ASCII letters and digits after the last '.', lower-cased; "" otherwise.
std::string stored_extension(std::string_view filename);

struct PutOptions {
  // Test hook: called after the bytes are written to the temporary file and before it is
  // renamed into place; an Error aborts the put (simulates a failure mid-write).
  std::function<Status()> before_rename;
};

class FileStore {
 public:
  // Opens (creating) `dir` and dir/files.sqlite; removes temporary files a crash left.
  static Result<std::unique_ptr<FileStore>> open(const std::filesystem::path& dir);
  ~FileStore();
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  // Stores `content` under a new id. `filename` is sanitized here.
  Result<FileRecord> put(std::string_view content, std::string_view filename,
                         std::string_view purpose, const PutOptions& options = {});
  // kNotFound for an unknown (or malformed) id.
  Result<FileRecord> get(std::string_view id) const;
  // Newest first.
  Result<std::vector<FileRecord>> list() const;
  Status remove(std::string_view id);
  // The id of `path` when it is one of this store's files (a collection's document path).
  std::optional<std::string> id_of_path(const std::filesystem::path& path) const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  FileStore() = default;
  std::filesystem::path dir_;
  std::filesystem::path canonical_dir_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mutex_;
};

}  // namespace hearth::rag
