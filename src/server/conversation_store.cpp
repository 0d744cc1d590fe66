#include "server/conversation_store.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <random>
#include <system_error>

#include "server/sqlite_util.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Random and unguessable enough that ids can sit in URLs without leaking how many exist.
std::string new_conversation_id() {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[40];
  std::snprintf(buf, sizeof buf, "conv-%012llx%04llx",
                static_cast<unsigned long long>(rng() & 0xffffffffffffULL),
                static_cast<unsigned long long>(++counter & 0xffff));
  return buf;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? json(nullptr) : j;
}

// LIKE treats % and _ as wildcards: a search for "50%" means the characters.
std::string like_pattern(const std::string& query) {
  std::string out = "%";
  for (char c : query) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

constexpr const char* kSummaryColumns =
    "c.id, c.title, c.model, c.created_ms, c.updated_ms, "
    "(SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)";

ConversationSummary read_summary(sql::Stmt& s) {
  return {s.text(0), s.text(1), s.text(2), s.int64(3), s.int64(4), s.int64(5)};
}

}  // namespace

std::unexpected<Error> ConversationStore::sqlite_error(const std::string& doing) const {
  const int rc = sqlite3_extended_errcode(db_);
  const ErrorKind kind = sql::is_corruption(rc) ? ErrorKind::kDataLoss : ErrorKind::kInternal;
  std::string message =
      "conversation store " + path_.string() + ": " + doing + ": " + sqlite3_errmsg(db_);
  if (kind == ErrorKind::kDataLoss) {
    message += " (the file is damaged or not a hearth database; move it away to start afresh)";
  }
  return fail(kind, std::move(message));
}

Status ConversationStore::exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return sqlite_error(sql);
  return ok();
}

Result<std::unique_ptr<ConversationStore>> ConversationStore::open(std::filesystem::path path) {
  std::error_code ec;
  if (path.has_parent_path()) {
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      return fail(ErrorKind::kUnavailable, "conversation store: cannot create " +
                                               path.parent_path().string() + ": " + ec.message());
    }
  }
  std::unique_ptr<ConversationStore> store(new ConversationStore(std::move(path)));
  const int rc =
      sqlite3_open_v2(store->path_.c_str(), &store->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) return store->sqlite_error("open");
  sqlite3_extended_result_codes(store->db_, 1);
  sqlite3_busy_timeout(store->db_, 5000);
  for (const char* sql :
       {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON",
        "CREATE TABLE IF NOT EXISTS conversations ("
        " id TEXT PRIMARY KEY,"
        " title TEXT NOT NULL,"
        " model TEXT NOT NULL,"
        " system_prompt TEXT NOT NULL,"
        " params TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL,"
        " updated_ms INTEGER NOT NULL,"
        // Orders the list: milliseconds tie when two writes are close.
        " touch_seq INTEGER NOT NULL DEFAULT 0)",
        "CREATE TABLE IF NOT EXISTS messages ("
        " conversation_id TEXT NOT NULL"
        "  REFERENCES conversations(id) ON DELETE CASCADE,"
        " seq INTEGER NOT NULL,"
        " role TEXT NOT NULL,"
        " content TEXT NOT NULL,"
        " model TEXT NOT NULL,"
        " timings TEXT NOT NULL,"
        " usage TEXT NOT NULL,"
        " created_ms INTEGER NOT NULL,"
        " PRIMARY KEY (conversation_id, seq))",
        "CREATE INDEX IF NOT EXISTS conversations_touched"
        " ON conversations(touch_seq)"}) {
    if (auto s = store->exec(sql); !s) return std::unexpected(s.error());
  }
  if (auto s = store->migrate(); !s) return std::unexpected(s.error());
  sql::Stmt check(store->db_, "PRAGMA quick_check");
  if (!check.ok()) return store->sqlite_error("quick_check");
  const int step = check.step();
  if (step == SQLITE_ROW && check.text(0) != "ok") {
    return fail(ErrorKind::kDataLoss, "conversation store " + store->path_.string() +
                                          " is corrupt: " + check.text(0) +
                                          " (move it away to start afresh)");
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE) return store->sqlite_error("quick_check");
  return store;
}

// Version 0: the first schema (the CREATE TABLEs in open). Version 1: messages.citations.
constexpr int64_t kSchemaVersion = 1;

Status ConversationStore::migrate() {
  if (auto s = exec("BEGIN IMMEDIATE"); !s) return s;
  // Read inside the write lock: another process may have migrated the file meanwhile.
  int64_t version = 0;
  {
    sql::Stmt read(db_, "PRAGMA user_version");
    if (!read.ok() || read.step() != SQLITE_ROW) {
      Status failed = sqlite_error("read the schema version");
      exec("ROLLBACK");
      return failed;
    }
    version = read.int64(0);
  }
  Status status = ok();
  if (version < 1) {
    status = exec("ALTER TABLE messages ADD COLUMN citations TEXT NOT NULL DEFAULT ''");
  }
  if (status && version < kSchemaVersion) {
    status = exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str());
  }
  if (!status) {
    exec("ROLLBACK");
    return status;
  }
  return exec("COMMIT");
}

ConversationStore::~ConversationStore() {
  if (db_) sqlite3_close_v2(db_);
}

Status ConversationStore::insert_messages(const std::string& id,
                                          const std::vector<ConversationMessage>& messages,
                                          int64_t first_seq) {
  sql::Stmt insert(db_,
                   "INSERT INTO messages (conversation_id, seq, role, content, model, "
                   "timings, usage, created_ms, citations) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!insert.ok()) return sqlite_error("prepare");
  int64_t seq = first_seq;
  for (const auto& m : messages) {
    insert.reset();
    insert.bind(1, id);
    insert.bind(2, seq++);
    insert.bind(3, m.role);
    insert.bind(4, m.content);
    insert.bind(5, m.model);
    insert.bind(6, dump(m.timings));
    insert.bind(7, dump(m.usage));
    insert.bind(8, m.created_ms > 0 ? m.created_ms : now_ms());
    insert.bind(9, m.citations.is_null() ? std::string() : dump(m.citations));
    if (insert.step() != SQLITE_DONE) return sqlite_error("insert message");
  }
  return ok();
}

Status ConversationStore::apply(const std::string& id, const ConversationUpdate& u, int64_t now) {
  // One statement per field keeps the SQL fixed (no string-built SET lists).
  auto set_text = [&](const char* sql, const std::string& value) -> Status {
    sql::Stmt s(db_, sql);
    if (!s.ok()) return sqlite_error("prepare");
    s.bind(1, value);
    s.bind(2, id);
    if (s.step() != SQLITE_DONE) return sqlite_error("update");
    return ok();
  };
  if (u.title) {
    if (auto s = set_text("UPDATE conversations SET title = ?1 WHERE id = ?2", *u.title); !s)
      return s;
  }
  if (u.model) {
    if (auto s = set_text("UPDATE conversations SET model = ?1 WHERE id = ?2", *u.model); !s)
      return s;
  }
  if (u.system_prompt) {
    if (auto s =
            set_text("UPDATE conversations SET system_prompt = ?1 WHERE id = ?2", *u.system_prompt);
        !s)
      return s;
  }
  if (u.params) {
    if (auto s = set_text("UPDATE conversations SET params = ?1 WHERE id = ?2", dump(*u.params));
        !s)
      return s;
  }
  if (u.messages) {
    sql::Stmt del(db_, "DELETE FROM messages WHERE conversation_id = ?1");
    if (!del.ok()) return sqlite_error("prepare");
    del.bind(1, id);
    if (del.step() != SQLITE_DONE) return sqlite_error("delete messages");
    if (auto s = insert_messages(id, *u.messages, 0); !s) return s;
  }
  sql::Stmt touch(db_,
                  "UPDATE conversations SET updated_ms = ?1, touch_seq = "
                  "(SELECT COALESCE(MAX(touch_seq), 0) + 1 FROM conversations) "
                  "WHERE id = ?2");
  if (!touch.ok()) return sqlite_error("prepare");
  touch.bind(1, now);
  touch.bind(2, id);
  if (touch.step() != SQLITE_DONE) return sqlite_error("update");
  return ok();
}

Result<Conversation> ConversationStore::create(const ConversationUpdate& update) {
  std::lock_guard lock(mutex_);
  const std::string id = new_conversation_id();
  const int64_t now = now_ms();
  if (auto s = exec("BEGIN IMMEDIATE"); !s) return std::unexpected(s.error());
  sql::Stmt insert(db_,
                   "INSERT INTO conversations (id, title, model, system_prompt, params, "
                   "created_ms, updated_ms) VALUES (?1, '', '', '', '{}', ?2, ?2)");
  Status status = ok();
  if (!insert.ok()) {
    status = sqlite_error("prepare");
  } else {
    insert.bind(1, id);
    insert.bind(2, now);
    if (insert.step() != SQLITE_DONE) status = sqlite_error("insert");
  }
  if (status) status = apply(id, update, now);
  if (!status) {
    exec("ROLLBACK");
    return std::unexpected(status.error());
  }
  if (auto s = exec("COMMIT"); !s) return std::unexpected(s.error());
  return get_locked(id);
}

Result<std::vector<ConversationSummary>> ConversationStore::list(const std::string& query,
                                                                 size_t limit) {
  std::lock_guard lock(mutex_);
  const std::string sql =
      std::string("SELECT ") + kSummaryColumns +
      " FROM conversations c WHERE ?1 = '' OR c.title LIKE ?2 ESCAPE '\\' OR EXISTS ("
      " SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.content LIKE ?2 ESCAPE '\\')"
      " ORDER BY c.touch_seq DESC LIMIT ?3";
  sql::Stmt select(db_, sql.c_str());
  if (!select.ok()) return sqlite_error("list");
  select.bind(1, query);
  select.bind(2, like_pattern(query));
  select.bind(3, static_cast<int64_t>(limit));
  std::vector<ConversationSummary> out;
  int rc;
  while ((rc = select.step()) == SQLITE_ROW) out.push_back(read_summary(select));
  if (rc != SQLITE_DONE) return sqlite_error("list");
  return out;
}

Result<Conversation> ConversationStore::get_locked(const std::string& id) {
  const std::string sql = std::string("SELECT ") + kSummaryColumns +
                          ", c.system_prompt, c.params FROM conversations c WHERE c.id = ?1";
  sql::Stmt select(db_, sql.c_str());
  if (!select.ok()) return sqlite_error("read");
  select.bind(1, id);
  const int rc = select.step();
  if (rc == SQLITE_DONE) return fail(ErrorKind::kNotFound, "conversation '" + id + "' not found");
  if (rc != SQLITE_ROW) return sqlite_error("read");
  Conversation c;
  c.summary = read_summary(select);
  c.system_prompt = select.text(6);
  c.params = parse_or_null(select.text(7));
  if (!c.params.is_object()) c.params = json::object();

  sql::Stmt messages(db_,
                     "SELECT role, content, model, timings, usage, created_ms, citations "
                     "FROM messages WHERE conversation_id = ?1 ORDER BY seq");
  if (!messages.ok()) return sqlite_error("read messages");
  messages.bind(1, id);
  int step;
  while ((step = messages.step()) == SQLITE_ROW) {
    c.messages.push_back({messages.text(0), messages.text(1), messages.text(2),
                          parse_or_null(messages.text(3)), parse_or_null(messages.text(4)),
                          messages.int64(5), parse_or_null(messages.text(6))});
  }
  if (step != SQLITE_DONE) return sqlite_error("read messages");
  return c;
}

Result<Conversation> ConversationStore::get(const std::string& id) {
  std::lock_guard lock(mutex_);
  return get_locked(id);
}

Result<Conversation> ConversationStore::update(const std::string& id,
                                               const ConversationUpdate& update) {
  std::lock_guard lock(mutex_);
  if (auto s = exec("BEGIN IMMEDIATE"); !s) return std::unexpected(s.error());
  auto existing = get_locked(id);
  Status status =
      existing ? apply(id, update, now_ms()) : Status(std::unexpected(existing.error()));
  if (!status) {
    exec("ROLLBACK");
    return std::unexpected(status.error());
  }
  if (auto s = exec("COMMIT"); !s) return std::unexpected(s.error());
  return get_locked(id);
}

Result<Conversation> ConversationStore::append(const std::string& id,
                                               const std::vector<ConversationMessage>& messages) {
  std::lock_guard lock(mutex_);
  if (auto s = exec("BEGIN IMMEDIATE"); !s) return std::unexpected(s.error());
  Status status = ok();
  auto existing = get_locked(id);
  if (!existing) {
    status = std::unexpected(existing.error());
  } else {
    sql::Stmt next(db_,
                   "SELECT COALESCE(MAX(seq) + 1, 0) FROM messages WHERE conversation_id = ?1");
    if (!next.ok()) {
      status = sqlite_error("prepare");
    } else {
      next.bind(1, id);
      if (next.step() != SQLITE_ROW) {
        status = sqlite_error("append");
      } else {
        status = insert_messages(id, messages, next.int64(0));
      }
    }
    if (status) status = apply(id, {}, now_ms());  // only touches updated_ms
  }
  if (!status) {
    exec("ROLLBACK");
    return std::unexpected(status.error());
  }
  if (auto s = exec("COMMIT"); !s) return std::unexpected(s.error());
  return get_locked(id);
}

Result<bool> ConversationStore::remove(const std::string& id) {
  std::lock_guard lock(mutex_);
  sql::Stmt del(db_, "DELETE FROM conversations WHERE id = ?1");
  if (!del.ok()) return sqlite_error("delete");
  del.bind(1, id);
  if (del.step() != SQLITE_DONE) return sqlite_error("delete");
  return sqlite3_changes(db_) > 0;
}

// ---- JSON ----------------------------------------------------------------------------------

json summary_json(const ConversationSummary& s) {
  return {{"id", s.id},
          {"title", s.title},
          {"model", s.model},
          {"created_ms", s.created_ms},
          {"updated_ms", s.updated_ms},
          {"message_count", s.message_count}};
}

json conversation_json(const Conversation& c) {
  json out = summary_json(c.summary);
  out["system_prompt"] = c.system_prompt;
  out["params"] = c.params;
  json messages = json::array();
  for (const auto& m : c.messages) {
    json one = {{"role", m.role}, {"content", m.content}, {"created_ms", m.created_ms}};
    if (!m.model.empty()) one["model"] = m.model;
    if (!m.timings.is_null()) one["timings"] = m.timings;
    if (!m.usage.is_null()) one["usage"] = m.usage;
    if (m.citations.is_array() && !m.citations.empty()) one["citations"] = m.citations;
    messages.push_back(std::move(one));
  }
  out["messages"] = std::move(messages);
  return out;
}

namespace {

std::unexpected<Error> bad(const std::string& field, const std::string& what) {
  return fail(ErrorKind::kInvalidInput, "'" + field + "' " + what);
}

// A string field when present; an Error when present with another type.
Status read_string(const json& body, const char* field, std::optional<std::string>& out) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return ok();
  if (!it->is_string()) return bad(field, "must be a string");
  out = it->get<std::string>();
  return ok();
}

}  // namespace

Result<std::vector<ConversationMessage>> parse_messages(const json& list) {
  if (!list.is_array()) return bad("messages", "must be an array");
  std::vector<ConversationMessage> out;
  for (size_t i = 0; i < list.size(); ++i) {
    const json& m = list[i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) return bad(at, "must be an object");
    ConversationMessage message;
    auto role = m.find("role");
    if (role == m.end() || !role->is_string()) return bad(at + ".role", "must be a string");
    message.role = role->get<std::string>();
    if (message.role != "user" && message.role != "assistant" && message.role != "error") {
      return bad(at + ".role", "must be user, assistant or error");
    }
    auto content = m.find("content");
    if (content == m.end() || !content->is_string()) {
      return bad(at + ".content", "must be a string");
    }
    message.content = content->get<std::string>();
    std::optional<std::string> model;
    if (auto s = read_string(m, "model", model); !s) return std::unexpected(s.error());
    message.model = model.value_or("");
    for (const char* field : {"timings", "usage"}) {
      auto it = m.find(field);
      if (it == m.end() || it->is_null()) continue;
      if (!it->is_object()) return bad(at + "." + field, "must be an object");
      (std::string(field) == "timings" ? message.timings : message.usage) = *it;
    }
    if (auto it = m.find("citations"); it != m.end() && !it->is_null()) {
      if (!it->is_array()) return bad(at + ".citations", "must be an array");
      for (size_t k = 0; k < it->size(); ++k) {
        if (!(*it)[k].is_object()) {
          return bad(at + ".citations[" + std::to_string(k) + "]", "must be an object");
        }
      }
      message.citations = *it;
    }
    auto created = m.find("created_ms");
    if (created != m.end() && created->is_number_integer()) {
      message.created_ms = created->get<int64_t>();
    }
    out.push_back(std::move(message));
  }
  return out;
}

Result<ConversationUpdate> parse_conversation_update(const json& body) {
  if (!body.is_object()) return fail(ErrorKind::kInvalidInput, "the body must be a JSON object");
  ConversationUpdate u;
  if (auto s = read_string(body, "title", u.title); !s) return std::unexpected(s.error());
  if (auto s = read_string(body, "model", u.model); !s) return std::unexpected(s.error());
  if (auto s = read_string(body, "system_prompt", u.system_prompt); !s) {
    return std::unexpected(s.error());
  }
  if (u.title && u.title->size() > 500) return bad("title", "is longer than 500 bytes");
  if (auto it = body.find("params"); it != body.end() && !it->is_null()) {
    if (!it->is_object()) return bad("params", "must be an object");
    u.params = *it;
  }
  if (auto it = body.find("messages"); it != body.end() && !it->is_null()) {
    auto messages = parse_messages(*it);
    if (!messages) return std::unexpected(messages.error());
    u.messages = std::move(*messages);
  }
  return u;
}

}  // namespace hearth::server
