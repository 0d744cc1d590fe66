// The models a server answers for, by id. Lookups hand out shared_ptr so a model stays alive
// while any request uses it, even if it is removed meanwhile. Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/api_error.h"
#include "server/served_model.h"

namespace hearth::server {

class ModelRegistry {
 public:
  void add(std::shared_ptr<ServedModel> model);
  // The model named `id`; an empty id picks the first model (clients that send none).
  ApiResult<std::shared_ptr<ServedModel>> acquire(const std::string& id) const;
  std::vector<std::shared_ptr<ServedModel>> all() const;
  bool empty() const;
  // Stops every scheduler (drain: let running requests finish).
  void shutdown(bool drain);

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<ServedModel>> models_;
};

}  // namespace hearth::server
