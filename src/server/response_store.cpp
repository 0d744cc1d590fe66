#include "server/response_store.h"

#include <sqlite3.h>

#include <system_error>

#include "server/sqlite_util.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

using Statement = sql::Stmt;

}  // namespace

std::unexpected<Error> ResponseStore::sqlite_error(const std::string& doing) const {
  const int rc = sqlite3_extended_errcode(db_);
  const ErrorKind kind = sql::is_corruption(rc) ? ErrorKind::kDataLoss : ErrorKind::kInternal;
  std::string message =
      "response store " + options_.path.string() + ": " + doing + ": " + sqlite3_errmsg(db_);
  if (kind == ErrorKind::kDataLoss) {
    message += " (the file is damaged or not a hearth database; move it away to start afresh)";
  }
  return fail(kind, std::move(message));
}

Status ResponseStore::exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return sqlite_error(sql);
  return ok();
}

Result<std::unique_ptr<ResponseStore>> ResponseStore::open(ResponseStoreOptions options) {
  if (options.max_responses == 0) options.max_responses = 1;
  std::error_code ec;
  if (options.path.has_parent_path()) {
    std::filesystem::create_directories(options.path.parent_path(), ec);
    if (ec) {
      return fail(ErrorKind::kUnavailable, "response store: cannot create " +
                                               options.path.parent_path().string() + ": " +
                                               ec.message());
    }
  }
  std::unique_ptr<ResponseStore> store(new ResponseStore(std::move(options)));
  const int rc = sqlite3_open_v2(
      store->options_.path.c_str(), &store->db_,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,  // our own mutex serializes
      nullptr);
  if (rc != SQLITE_OK) return store->sqlite_error("open");
  sqlite3_extended_result_codes(store->db_, 1);
  sqlite3_busy_timeout(store->db_, 5000);
  // The first statements read the header: a file that is not SQLite fails here.
  if (auto s = store->exec("PRAGMA journal_mode=WAL"); !s) return std::unexpected(s.error());
  if (auto s = store->exec("PRAGMA synchronous=NORMAL"); !s) return std::unexpected(s.error());
  if (auto s = store->exec("CREATE TABLE IF NOT EXISTS responses ("
                           " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                           " id TEXT NOT NULL UNIQUE,"
                           " created_at INTEGER NOT NULL,"
                           " response TEXT NOT NULL,"
                           " conversation TEXT NOT NULL)");
      !s) {
    return std::unexpected(s.error());
  }
  // A damaged page would otherwise surface on some later request; check the file once now
  // (quick_check reads every page: a bounded store is small).
  Statement check(store->db_, "PRAGMA quick_check");
  if (!check.ok()) return store->sqlite_error("quick_check");
  int step = check.step();
  if (step == SQLITE_ROW && check.text(0) != "ok") {
    return fail(ErrorKind::kDataLoss, "response store " + store->options_.path.string() +
                                          " is corrupt: " + check.text(0) +
                                          " (move it away to start afresh)");
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE) return store->sqlite_error("quick_check");
  return store;
}

ResponseStore::~ResponseStore() {
  if (db_) sqlite3_close_v2(db_);
}

Status ResponseStore::put(const std::string& id, const json& response, const json& conversation) {
  std::lock_guard lock(mutex_);
  const auto dump = [](const json& j) {
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
  };
  if (auto s = exec("BEGIN IMMEDIATE"); !s) return s;
  Statement insert(db_,
                   "INSERT OR REPLACE INTO responses (id, created_at, response, conversation) "
                   "VALUES (?1, ?2, ?3, ?4)");
  Statement trim(db_,
                 "DELETE FROM responses WHERE seq <= "
                 "(SELECT seq FROM responses ORDER BY seq DESC LIMIT 1 OFFSET ?1)");
  if (!insert.ok() || !trim.ok()) {
    auto error = sqlite_error("prepare");
    exec("ROLLBACK");
    return error;
  }
  insert.bind(1, id);
  insert.bind(2, response.value("created_at", int64_t{0}));
  insert.bind(3, dump(response));
  insert.bind(4, dump(conversation));
  trim.bind(1, static_cast<int64_t>(options_.max_responses));
  if (insert.step() != SQLITE_DONE || trim.step() != SQLITE_DONE) {
    auto error = sqlite_error("write");
    exec("ROLLBACK");
    return error;
  }
  return exec("COMMIT");
}

Result<StoredResponse> ResponseStore::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  Statement select(db_, "SELECT response, conversation FROM responses WHERE id = ?1");
  if (!select.ok()) return sqlite_error("read");
  select.bind(1, id);
  const int rc = select.step();
  if (rc == SQLITE_DONE) return fail(ErrorKind::kNotFound, "response '" + id + "' not found");
  if (rc != SQLITE_ROW) return sqlite_error("read");
  StoredResponse stored;
  stored.response = json::parse(select.text(0), nullptr, /*allow_exceptions=*/false);
  stored.conversation = json::parse(select.text(1), nullptr, /*allow_exceptions=*/false);
  if (stored.response.is_discarded() || stored.conversation.is_discarded() ||
      !stored.conversation.is_array()) {
    return fail(ErrorKind::kDataLoss, "response store " + options_.path.string() +
                                          ": the row of '" + id + "' is not valid JSON");
  }
  return stored;
}

Result<bool> ResponseStore::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  Statement del(db_, "DELETE FROM responses WHERE id = ?1");
  if (!del.ok()) return sqlite_error("delete");
  del.bind(1, id);
  if (del.step() != SQLITE_DONE) return sqlite_error("delete");
  return sqlite3_changes(db_) > 0;
}

Result<size_t> ResponseStore::count() {
  std::lock_guard lock(mutex_);
  Statement select(db_, "SELECT COUNT(*) FROM responses");
  if (!select.ok() || select.step() != SQLITE_ROW) return sqlite_error("count");
  return static_cast<size_t>(select.int64(0));
}

}  // namespace hearth::server
