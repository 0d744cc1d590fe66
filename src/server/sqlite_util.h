// A thin RAII layer over the SQLite C API, shared by every SQLite store (the server's
// responses and conversations, rag's collections, files and vector stores): statements that
// finalize themselves and errors as hearth::Error values. Not thread-safe (like the
// connection it uses): the stores hold their own mutex.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "hearth/status.h"

namespace hearth::server::sql {

// Corruption or "not a database": the file, not the query, is at fault.
inline bool is_corruption(int rc) {
  const int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

inline Error error(sqlite3* db, std::string_view what) {
  const int code = sqlite3_extended_errcode(db);
  ErrorKind kind = ErrorKind::kInternal;
  if ((code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED)
    kind = ErrorKind::kUnavailable;
  if (is_corruption(code)) kind = ErrorKind::kDataLoss;
  if ((code & 0xff) == SQLITE_FULL) kind = ErrorKind::kResourceExhausted;
  return Error{std::string(what) + ": " + sqlite3_errmsg(db), kind};
}

inline Status exec(sqlite3* db, const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return fail(ErrorKind::kInternal, std::string("sqlite: ") + text);
  }
  return ok();
}

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Stmt& bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Stmt& bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& bind_blob(int i, const void* data, size_t n) {
    sqlite3_bind_blob(stmt_, i, data, static_cast<int>(n), SQLITE_TRANSIENT);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_MISUSE; }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const {
    const auto* p = sqlite3_column_text(stmt_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), sqlite3_column_bytes(stmt_, col))
             : std::string();
  }
  const void* blob(int col) const { return sqlite3_column_blob(stmt_, col); }
  int bytes(int col) const { return sqlite3_column_bytes(stmt_, col); }
  sqlite3* db() const { return db_; }
  // For the calls this wrapper does not cover (sqlite3_bind_pointer, ...); null when !ok().
  sqlite3_stmt* handle() const { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace hearth::server::sql
