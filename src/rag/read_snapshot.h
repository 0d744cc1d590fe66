// A collection's database opened read-only on a connection of its own, inside one read
// transaction: under WAL it reads one consistent snapshot while a writer commits. Move-only;
// destroying it ends the transaction and closes the connection. Not shared between threads.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <utility>

#include "hearth/status.h"
#include "server/sqlite_util.h"

namespace hearth::rag {

class ReadSnapshot {
 public:
  static Result<ReadSnapshot> open(const std::filesystem::path& path) {
    ReadSnapshot snapshot;
    if (sqlite3_open_v2(path.c_str(), &snapshot.db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
      return unavailable("cannot open " + path.string() + " for reading");
    sqlite3_busy_timeout(snapshot.db_, 30000);
    if (auto s = server::sql::exec(snapshot.db_, "BEGIN"); !s) return std::unexpected(s.error());
    return snapshot;
  }

  ReadSnapshot(ReadSnapshot&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  ReadSnapshot& operator=(ReadSnapshot&& other) noexcept {
    std::swap(db_, other.db_);
    return *this;
  }
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;
  ~ReadSnapshot() {
    if (db_) sqlite3_close_v2(db_);  // a read transaction simply ends with its connection
  }

  sqlite3* db() const { return db_; }

 private:
  ReadSnapshot() = default;
  sqlite3* db_ = nullptr;
};

}  // namespace hearth::rag
