// Stored Responses (POST /v1/responses with store: true) in one SQLite file under
// $HEARTH_HOME, so GET /v1/responses/{id} and previous_response_id work across restarts.
// Each row keeps the Response object and its conversation as chat messages (the history
// plus this turn's input and output, without instructions), which is what a follow-up
// request with previous_response_id continues from.
//
// Bounded: after each insert only the newest `max_responses` rows are kept. The file uses
// WAL so a reader never waits for a writer's fsync.
//
// Thread-safety: every method may be called from any thread (one connection, one mutex).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "hearth/status.h"

struct sqlite3;

namespace hearth::server {

struct ResponseStoreOptions {
  std::filesystem::path path;   // the database file; its folder is created
  size_t max_responses = 1000;  // newest rows kept; at least 1
};

struct StoredResponse {
  nlohmann::ordered_json response;      // the Response object as it was returned
  nlohmann::ordered_json conversation;  // chat messages: history, input, output
};

class ResponseStore {
 public:
  // Opens (or creates) the database and checks it. A file that is not a database or is
  // corrupt is a kDataLoss Error naming the file; nothing is overwritten.
  static Result<std::unique_ptr<ResponseStore>> open(ResponseStoreOptions options);
  ~ResponseStore();
  ResponseStore(const ResponseStore&) = delete;
  ResponseStore& operator=(const ResponseStore&) = delete;

  // Inserts or replaces `id`, then drops the oldest rows beyond the bound.
  Status put(const std::string& id, const nlohmann::ordered_json& response,
             const nlohmann::ordered_json& conversation);
  // kNotFound when `id` is not stored (never was, deleted, or dropped by the bound).
  Result<StoredResponse> get(const std::string& id);
  // True when a row was removed.
  Result<bool> remove(const std::string& id);
  Result<size_t> count();

  const std::filesystem::path& path() const { return options_.path; }

 private:
  explicit ResponseStore(ResponseStoreOptions options) : options_(std::move(options)) {}
  Status exec(const char* sql);
  std::unexpected<Error> sqlite_error(const std::string& doing) const;

  ResponseStoreOptions options_;
  sqlite3* db_ = nullptr;
  std::mutex mutex_;
};

}  // namespace hearth::server
