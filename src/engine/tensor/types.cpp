#include "engine/tensor/types.h"

#include <array>
#include <cassert>

namespace hearth {
namespace {

// K-quant super-blocks hold 256 elements.
constexpr int64_t kQK = 256;

constexpr std::array kTypeTable = {
    TensorTypeTraits{TensorType::F32, "F32", 1, 4, true},
    TensorTypeTraits{TensorType::F16, "F16", 1, 2, true},
    TensorTypeTraits{TensorType::Q4_0, "Q4_0", 32, 2 + 16, true},
    TensorTypeTraits{TensorType::Q4_1, "Q4_1", 32, 2 + 2 + 16, true},
    TensorTypeTraits{TensorType::Q5_0, "Q5_0", 32, 2 + 4 + 16, true},
    TensorTypeTraits{TensorType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, true},
    TensorTypeTraits{TensorType::Q8_0, "Q8_0", 32, 2 + 32, true},
    TensorTypeTraits{TensorType::Q8_1, "Q8_1", 32, 4 + 32, false},
    TensorTypeTraits{TensorType::Q2_K, "Q2_K", kQK, kQK / 16 + kQK / 4 + 2 + 2, false},
    TensorTypeTraits{TensorType::Q3_K, "Q3_K", kQK, kQK / 8 + kQK / 4 + 12 + 2, false},
    TensorTypeTraits{TensorType::Q4_K, "Q4_K", kQK, 2 + 2 + 12 + kQK / 2, true},
    TensorTypeTraits{TensorType::Q5_K, "Q5_K", kQK, 2 + 2 + 12 + kQK / 8 + kQK / 2, true},
    TensorTypeTraits{TensorType::Q6_K, "Q6_K", kQK, kQK / 2 + kQK / 4 + kQK / 16 + 2, true},
    TensorTypeTraits{TensorType::Q8_K, "Q8_K", kQK, 4 + kQK + kQK / 16 * 2, false},
    TensorTypeTraits{TensorType::I8, "I8", 1, 1, false},
    TensorTypeTraits{TensorType::I16, "I16", 1, 2, false},
    TensorTypeTraits{TensorType::I32, "I32", 1, 4, false},
    TensorTypeTraits{TensorType::I64, "I64", 1, 8, false},
    TensorTypeTraits{TensorType::F64, "F64", 1, 8, false},
    TensorTypeTraits{TensorType::BF16, "BF16", 1, 2, true},
};

}  // namespace

std::optional<TensorTypeTraits> tensor_type_traits(uint32_t raw_type) {
  for (const auto& t : kTypeTable) {
    if (static_cast<uint32_t>(t.type) == raw_type) return t;
  }
  return std::nullopt;
}

const TensorTypeTraits& traits(TensorType type) {
  for (const auto& t : kTypeTable) {
    if (t.type == type) return t;
  }
  assert(false && "TensorType value outside the table");
  return kTypeTable[0];
}

std::string_view tensor_type_name(TensorType type) {
  return traits(type).name;
}

}  // namespace hearth
