#include "engine/models/token_reads.h"

#include <algorithm>
#include <string_view>

#include "engine/models/arch_table.h"

namespace hearth::models {
namespace {

bool is_stacked_expert_tensor(std::string_view name) {
  namespace tn = tensor_names;
  for (std::string_view suffix : {tn::kFfnGateExps, tn::kFfnUpExps, tn::kFfnDownExps}) {
    if (name.ends_with(suffix)) return true;
  }
  return false;
}

}  // namespace

uint64_t weight_bytes_per_token(std::span<const gguf::TensorInfo> tensors, int64_t n_expert,
                                int64_t n_expert_used) {
  uint64_t total = 0;
  for (const gguf::TensorInfo& t : tensors) {
    if (n_expert > 0 && is_stacked_expert_tensor(t.name)) {
      // The stack is n_expert equal slices, so the division is exact.
      const auto used = static_cast<uint64_t>(std::clamp<int64_t>(n_expert_used, 0, n_expert));
      total += t.n_bytes / static_cast<uint64_t>(n_expert) * used;
    } else {
      total += t.n_bytes;
    }
  }
  return total;
}

}  // namespace hearth::models
