#include "server/model_registry.h"

#include <algorithm>

#include "hearth/memory_estimate.h"

namespace hearth::server {

namespace {

std::string mib(uint64_t bytes) {
  return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

// What a model holds in memory, by the shared estimate: its mapped weights plus the KV caches
// of its slots, of the type the scheduler's sessions use (the default), plus its slots' draft
// caches (the draft model's weights are taken off the budget once, by the server).
uint64_t estimate_memory(ServedModel& m, uint64_t file_bytes) {
  const ModelInfo& info = m.model().info();
  // An encoder's sessions hold no KV cache.
  const KvShape shape = kv_shape_of(info, m.scheduler().max_batch_tokens());
  return model_memory_bytes(file_bytes, shape, m.scheduler().n_ctx(), m.scheduler().n_slots(),
                            SessionOptions{}.kv_type) +
         m.scheduler().draft_kv_bytes();
}

}  // namespace

bool ModelRegistry::busy(const Loaded& m) {
  // The registry holds one reference; any other is a request (or a listing) using it.
  return m.model.use_count() > 1 || m.model->scheduler().load() > 0;
}

ModelRegistry::Clock::time_point ModelRegistry::idle_since(const Loaded& m) {
  const Clock::time_point released{Clock::duration{m.released_at->load()}};
  return std::max(m.last_used, released);
}

std::shared_ptr<Backend> ModelRegistry::lease(const Loaded& m) {
  struct Lease {
    std::shared_ptr<ServedModel> model;
    std::shared_ptr<std::atomic<Clock::rep>> released_at;
    Lease(std::shared_ptr<ServedModel> model, std::shared_ptr<std::atomic<Clock::rep>> released_at)
        : model(std::move(model)), released_at(std::move(released_at)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { released_at->store(Clock::now().time_since_epoch().count()); }
  };
  auto held = std::make_shared<Lease>(m.model, m.released_at);
  return std::shared_ptr<Backend>(held, held->model.get());
}

void ModelRegistry::add(std::shared_ptr<ServedModel> model, std::filesystem::path path,
                        uint64_t file_bytes) {
  std::lock_guard lock(mutex_);
  const uint64_t memory = estimate_memory(*model, file_bytes);
  models_.push_back({std::move(model), std::move(path), memory, 0, Clock::now()});
}

void ModelRegistry::set_provider(std::shared_ptr<ModelProvider> provider, RegistryLimits limits) {
  std::lock_guard lock(mutex_);
  provider_ = std::move(provider);
  limits_ = limits;
}

ModelRegistry::Loaded* ModelRegistry::find_locked(const std::string& id) const {
  for (auto& m : models_) {
    if (m.model->id() == id) return &m;
  }
  return nullptr;
}

ApiResult<std::shared_ptr<Backend>> ModelRegistry::acquire(const std::string& id) const {
  {
    std::lock_guard lock(mutex_);
    if (id.empty()) {
      if (models_.empty()) {
        return api_fail({.status = 503,
                         .message = provider_ ? "No model is loaded; name one in \"model\" (a "
                                                "catalog alias loads on demand)."
                                              : "No model is loaded.",
                         .type = "server_error",
                         .code = "no_model",
                         .retry_after_seconds = provider_ ? 0 : 5});
      }
      models_.front().last_used = Clock::now();
      return lease(models_.front());
    }
    if (Loaded* m = find_locked(id)) {
      m->last_used = Clock::now();
      return lease(*m);
    }
    if (!provider_) return api_fail(model_not_found(id));
  }
  return load_on_demand(id, std::nullopt);
}

ApiResult<std::shared_ptr<Backend>> ModelRegistry::load(const std::string& name,
                                                        std::optional<int> ttl_seconds) {
  {
    std::lock_guard lock(mutex_);
    if (Loaded* m = find_locked(name)) {
      m->last_used = Clock::now();
      if (ttl_seconds) m->ttl_seconds = *ttl_seconds;
      return lease(*m);
    }
    if (!provider_) return api_fail(model_not_found(name));
  }
  return load_on_demand(name, ttl_seconds);
}

ApiResult<bool> ModelRegistry::make_room_locked(
    const std::string& name, uint64_t needed,
    std::vector<std::shared_ptr<ServedModel>>& evicted) const {
  const uint64_t budget = limits_.memory_budget_bytes;
  if (budget == 0) return true;
  if (needed > budget) {
    return api_fail(insufficient_memory("model " + name + " needs at least " + mib(needed) +
                                        ", more than the server's memory budget of " + mib(budget) +
                                        " (--memory-budget)"));
  }
  auto used = [&] {
    uint64_t total = 0;
    for (const auto& m : models_) total += m.memory_bytes;
    return total;
  };
  // Least recently used idle models go first until the new one fits.
  while (used() + needed > budget) {
    auto victim = models_.end();
    for (auto it = models_.begin(); it != models_.end(); ++it) {
      if (busy(*it)) continue;
      if (victim == models_.end() || idle_since(*it) < idle_since(*victim)) victim = it;
    }
    if (victim == models_.end()) {
      return api_fail(insufficient_memory("model " + name + " needs " + mib(needed) + " but " +
                                          mib(used()) + " of the " + mib(budget) +
                                          " memory budget is held by models with requests in "
                                          "flight"));
    }
    evicted.push_back(victim->model);
    models_.erase(victim);
  }
  return true;
}

ApiResult<std::shared_ptr<Backend>> ModelRegistry::load_on_demand(const std::string& name,
                                                                  std::optional<int> ttl) const {
  auto source =
      provider_->locate(name, limits_.memory_budget_bytes);  // may download: outside every lock
  if (!source) return api_fail(source.error());
  std::lock_guard load_lock(load_mutex_);
  std::vector<std::shared_ptr<ServedModel>> evicted;  // destroyed after the lock is released
  {
    std::lock_guard lock(mutex_);
    // Loaded meanwhile, or the same file under another name ("alias" and "alias:q8_0").
    for (auto& m : models_) {
      if (m.model->id() == name || m.model->id() == source->id ||
          (!m.path.empty() && m.path == source->path)) {
        m.last_used = Clock::now();
        if (ttl) m.ttl_seconds = *ttl;
        return lease(m);
      }
    }
    // Before loading, the model's shape is unknown: its estimate is at least the file.
    if (auto room = make_room_locked(name, source->file_bytes, evicted); !room) {
      return api_fail(room.error());
    }
  }
  for (auto& m : evicted) m->scheduler().shutdown(/*drain=*/false);
  evicted.clear();
  auto model = provider_->load(*source);
  if (!model) return api_fail(model.error());
  std::lock_guard lock(mutex_);
  // Loaded, the estimate is complete (file + KV caches); the budget check and the accounting
  // both use it.
  const uint64_t memory = estimate_memory(**model, source->file_bytes);
  if (auto room = make_room_locked(name, memory, evicted); !room) {
    (*model)->scheduler().shutdown(/*drain=*/false);
    return api_fail(room.error());
  }
  for (auto& m : evicted) m->scheduler().shutdown(/*drain=*/false);
  models_.push_back(
      {*model, source->path, memory, ttl.value_or(limits_.default_ttl_seconds), Clock::now()});
  return lease(models_.back());
}

ApiResult<bool> ModelRegistry::unload(const std::string& name, bool force) {
  std::shared_ptr<ServedModel> victim;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(models_.begin(), models_.end(),
                           [&](const Loaded& m) { return m.model->id() == name; });
    if (it == models_.end()) return api_fail(model_not_found(name));
    if (busy(*it) && !force) {
      return api_fail({.status = 409,
                       .message = "model " + name +
                                  " has requests in flight; unload with force=true to cancel them",
                       .type = "invalid_request_error",
                       .code = "model_in_use"});
    }
    victim = it->model;
    models_.erase(it);
  }
  victim->scheduler().shutdown(/*drain=*/false);
  return true;
}

std::vector<std::string> ModelRegistry::expire_idle() {
  std::vector<std::shared_ptr<ServedModel>> expired;
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mutex_);
    const auto now = Clock::now();
    for (auto it = models_.begin(); it != models_.end();) {
      if (busy(*it)) {
        it->last_used = now;  // in use: the idle clock does not run
      } else if (it->ttl_seconds > 0 &&
                 now - idle_since(*it) >= std::chrono::seconds(it->ttl_seconds)) {
        ids.push_back(it->model->id());
        expired.push_back(std::move(it->model));
        it = models_.erase(it);
        continue;
      }
      ++it;
    }
  }
  for (auto& m : expired) m->scheduler().shutdown(/*drain=*/false);
  return ids;
}

std::vector<std::shared_ptr<Backend>> ModelRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<Backend>> out;
  for (const auto& m : models_) out.push_back(m.model);
  return out;
}

std::vector<LoadedModelInfo> ModelRegistry::loaded() const {
  std::lock_guard lock(mutex_);
  std::vector<LoadedModelInfo> out;
  const auto now = Clock::now();
  for (const auto& m : models_) {
    LoadedModelInfo info{m.model->id(), m.path, m.memory_bytes, m.model->scheduler().load(),
                         m.ttl_seconds, -1};
    if (m.ttl_seconds > 0) {
      const auto idle =
          std::chrono::duration_cast<std::chrono::seconds>(now - idle_since(m)).count();
      info.ttl_left_seconds = std::max<int64_t>(0, m.ttl_seconds - idle);
    }
    out.push_back(std::move(info));
  }
  return out;
}

uint64_t ModelRegistry::memory_used() const {
  std::lock_guard lock(mutex_);
  uint64_t total = 0;
  for (const auto& m : models_) total += m.memory_bytes;
  return total;
}

bool ModelRegistry::empty() const {
  std::lock_guard lock(mutex_);
  return models_.empty();
}

void ModelRegistry::shutdown(bool drain) {
  for (const auto& m : all()) m->shutdown(drain);
}

}  // namespace hearth::server
