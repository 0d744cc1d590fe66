// The web app's conversations, kept server-side in one SQLite file under $HEARTH_HOME
// (conversations.sqlite), so history survives a reload, another browser, a restart and a
// killed process (WAL, synchronous=NORMAL: a committed write is not lost when the process
// dies; only a power cut may lose the last ones).
//
// A conversation has a title, the model and parameters it was last sent with, a system
// prompt, and its messages in order; each message keeps its role, text, the model that
// wrote it and, for replies, the `timings`, `usage` and `citations` the server returned.
// The schema carries a version (PRAGMA user_version); open() migrates older files in place.
// Timestamps are Unix milliseconds. Ids are opaque strings made here.
//
// Thread-safety: every method may be called from any thread (one connection, one mutex).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hearth/status.h"

struct sqlite3;

namespace hearth::server {

struct ConversationMessage {
  std::string role;  // "user", "assistant", or "error" (a failed turn, shown as such)
  std::string content;
  std::string model;               // the model that answered; empty for the user's turns
  nlohmann::ordered_json timings;  // the reply's `timings` (null when none)
  nlohmann::ordered_json usage;    // the reply's `usage` (null when none)
  int64_t created_ms = 0;
  nlohmann::ordered_json citations;  // a grounded reply's `citations` (an array; null when none)
};

struct ConversationSummary {
  std::string id;
  std::string title;
  std::string model;
  int64_t created_ms = 0;
  int64_t updated_ms = 0;
  int64_t message_count = 0;
};

struct Conversation {
  ConversationSummary summary;
  std::string system_prompt;
  nlohmann::ordered_json params;  // temperature, top_p, max_tokens, seed (an object)
  std::vector<ConversationMessage> messages;
};

// What an update changes; absent fields stay as they are.
struct ConversationUpdate {
  std::optional<std::string> title;
  std::optional<std::string> model;
  std::optional<std::string> system_prompt;
  std::optional<nlohmann::ordered_json> params;
  // Replaces every message (edit-and-resend and regenerate drop the tail and send anew).
  std::optional<std::vector<ConversationMessage>> messages;
};

class ConversationStore {
 public:
  // Opens (or creates) the database. A file that is not a database or is corrupt is a
  // kDataLoss Error naming the file; nothing is overwritten.
  static Result<std::unique_ptr<ConversationStore>> open(std::filesystem::path path);
  ~ConversationStore();
  ConversationStore(const ConversationStore&) = delete;
  ConversationStore& operator=(const ConversationStore&) = delete;

  // A new conversation with `update`'s fields (messages included) set.
  Result<Conversation> create(const ConversationUpdate& update);
  // Newest first. A non-empty `query` keeps conversations whose title or any message contains
  // it (case-insensitive for ASCII; LIKE with its wildcards escaped).
  Result<std::vector<ConversationSummary>> list(const std::string& query, size_t limit = 500);
  // kNotFound when there is no such conversation.
  Result<Conversation> get(const std::string& id);
  Result<Conversation> update(const std::string& id, const ConversationUpdate& update);
  // Appends messages; kNotFound when there is no such conversation.
  Result<Conversation> append(const std::string& id,
                              const std::vector<ConversationMessage>& messages);
  // True when it existed.
  Result<bool> remove(const std::string& id);

  const std::filesystem::path& path() const { return path_; }

 private:
  explicit ConversationStore(std::filesystem::path path) : path_(std::move(path)) {}
  Status exec(const char* sql);
  // Brings a database of an older schema version up to this one (columns added, never
  // removed, so an older hearth can still read it).
  Status migrate();
  std::unexpected<Error> sqlite_error(const std::string& doing) const;
  // With mutex_ held: the parts of update that touch one row or the message list.
  Status apply(const std::string& id, const ConversationUpdate& update, int64_t now_ms);
  Status insert_messages(const std::string& id, const std::vector<ConversationMessage>& messages,
                         int64_t first_seq);
  Result<Conversation> get_locked(const std::string& id);

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
};

// The JSON the web app reads and writes (docs/api.md, "Web app"): a conversation with its
// messages, which is also the export format; and the reverse, for requests. Parsing refuses
// wrong types with a kInvalidInput Error naming the field.
nlohmann::ordered_json conversation_json(const Conversation& c);
nlohmann::ordered_json summary_json(const ConversationSummary& s);
Result<ConversationUpdate> parse_conversation_update(const nlohmann::ordered_json& body);
Result<std::vector<ConversationMessage>> parse_messages(const nlohmann::ordered_json& list);

}  // namespace hearth::server
