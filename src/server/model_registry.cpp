#include "server/model_registry.h"

namespace hearth::server {

void ModelRegistry::add(std::shared_ptr<ServedModel> model) {
  std::lock_guard lock(mutex_);
  models_.push_back(std::move(model));
}

ApiResult<std::shared_ptr<ServedModel>> ModelRegistry::acquire(const std::string& id) const {
  std::lock_guard lock(mutex_);
  if (models_.empty()) {
    return api_fail({.status = 503, .message = "No model is loaded.", .type = "server_error",
                     .code = "no_model", .retry_after_seconds = 5});
  }
  if (id.empty()) return models_.front();
  for (const auto& m : models_) {
    if (m->id() == id) return m;
  }
  return api_fail(model_not_found(id));
}

std::vector<std::shared_ptr<ServedModel>> ModelRegistry::all() const {
  std::lock_guard lock(mutex_);
  return models_;
}

bool ModelRegistry::empty() const {
  std::lock_guard lock(mutex_);
  return models_.empty();
}

void ModelRegistry::shutdown(bool drain) {
  for (const auto& m : all()) m->scheduler().shutdown(drain);
}

}  // namespace hearth::server
