// The models a server answers for, by id. Lookups hand out shared_ptr so a model stays alive
// while any request uses it, even if it is removed meanwhile. Thread-safe.
//
// With a ModelProvider the registry also loads models on demand (a request naming a catalog
// alias or a path that is not loaded yet), unloads models idle longer than their TTL, and
// keeps the loaded models within a memory budget: to make room it unloads the least recently
// used idle model first, never one with a request in flight, and answers 507 when a model
// cannot fit.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/backend.h"
#include "server/served_model.h"

namespace hearth::server {

// Where a model that is not loaded yet comes from.
struct ModelSource {
  std::string id;              // the name it is served under
  std::filesystem::path path;  // the GGUF file (already downloaded)
  uint64_t file_bytes = 0;
};

class ModelProvider {
 public:
  virtual ~ModelProvider() = default;
  // Finds (and, when allowed, downloads) what `name` means. 404 for an unknown name; 507,
  // before downloading anything, when its known size alone exceeds `memory_budget` (bytes;
  // 0: no limit).
  virtual ApiResult<ModelSource> locate(const std::string& name, uint64_t memory_budget) = 0;
  virtual ApiResult<std::shared_ptr<ServedModel>> load(const ModelSource& source) = 0;
};

struct RegistryLimits {
  uint64_t memory_budget_bytes = 0;  // 0: no limit
  int default_ttl_seconds = 600;     // for models loaded on demand; 0: never unload
};

// One loaded model as `service ps` shows it.
struct LoadedModelInfo {
  std::string id;
  std::filesystem::path path;
  uint64_t memory_bytes = 0;
  int in_flight = 0;
  int ttl_seconds = 0;            // 0: stays loaded
  int64_t ttl_left_seconds = -1;  // -1: never unloads
};

class ModelRegistry {
 public:
  // A model loaded at startup (-m): it has no TTL. It holds `file_bytes` of weights plus its
  // slots' caches in the memory accounting.
  void add(std::shared_ptr<ServedModel> model, std::filesystem::path path = {},
           uint64_t file_bytes = 0);
  void set_provider(std::shared_ptr<ModelProvider> provider, RegistryLimits limits);

  // The backend answering for `id`, loading it through the provider when needed; an empty id
  // picks the first model (clients that send none). Holding the pointer keeps the model
  // loaded (it counts as a request in flight).
  ApiResult<std::shared_ptr<Backend>> acquire(const std::string& id) const;
  // Loads (or finds) `name`, setting its TTL when given.
  ApiResult<std::shared_ptr<Backend>> load(const std::string& name, std::optional<int> ttl_seconds);
  // Unloads `name`; a 409 while requests use it unless `force`.
  ApiResult<bool> unload(const std::string& name, bool force);
  // Unloads models idle longer than their TTL; returns their ids.
  std::vector<std::string> expire_idle();

  std::vector<std::shared_ptr<Backend>> all() const;
  std::vector<LoadedModelInfo> loaded() const;
  uint64_t memory_budget() const { return limits_.memory_budget_bytes; }
  uint64_t memory_used() const;
  bool empty() const;
  bool can_load_on_demand() const { return provider_ != nullptr; }
  // Stops every scheduler (drain: let running requests finish).
  void shutdown(bool drain);

 private:
  using Clock = std::chrono::steady_clock;
  struct Loaded {
    std::shared_ptr<ServedModel> model;
    std::filesystem::path path;
    uint64_t memory_bytes = 0;
    int ttl_seconds = 0;
    Clock::time_point last_used;  // the last acquire
    // Written by a lease's destructor when a request lets go (any thread, no lock): idle
    // time counts from the end of the last request, however short it was.
    std::shared_ptr<std::atomic<Clock::rep>> released_at =
        std::make_shared<std::atomic<Clock::rep>>(0);
  };
  static bool busy(const Loaded& m);
  static Clock::time_point idle_since(const Loaded& m);
  // The model for one request: the returned pointer marks the model released when its last
  // copy goes.
  static std::shared_ptr<Backend> lease(const Loaded& m);
  Loaded* find_locked(const std::string& id) const;
  ApiResult<std::shared_ptr<Backend>> load_on_demand(const std::string& name,
                                                     std::optional<int> ttl) const;
  // Unloads least recently used idle models (into `evicted`, to be shut down outside the
  // lock) until `needed` more bytes fit the budget; a 507 when they cannot. mutex_ held.
  ApiResult<bool> make_room_locked(const std::string& name, uint64_t needed,
                                   std::vector<std::shared_ptr<ServedModel>>& evicted) const;

  mutable std::mutex mutex_;
  mutable std::vector<Loaded> models_;
  mutable std::mutex load_mutex_;  // one load at a time: the memory check and the load are one step
  std::shared_ptr<ModelProvider> provider_;
  RegistryLimits limits_;
};

}  // namespace hearth::server
