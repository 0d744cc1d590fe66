// The architecture table's per-layer patterns (which layers rotate, which slide), as the
// forward pass reads them through HyperParams.
#include "engine/models/arch_table.h"

#include <gtest/gtest.h>

#include "engine/models/model_weights.h"

namespace hearth::models {
namespace {

TEST(ArchTable, SmolLM3LeavesEveryFourthLayerWithoutRope) {
  const ArchSpec* spec = find_arch("smollm3");
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->family, Family::kLlama);
  HyperParams hp;
  hp.nope_period = spec->nope_period;
  std::vector<int64_t> without;
  for (int64_t il = 0; il < 36; ++il)
    if (!hp.layer_has_rope(il)) without.push_back(il);
  // SmolLM3-3B's config: no_rope_layer_interval 4, i.e. layers 4, 8, ... counted from 1.
  const std::vector<int64_t> expected = {3, 7, 11, 15, 19, 23, 27, 31, 35};
  EXPECT_EQ(without, expected);
}

TEST(ArchTable, OtherDecodersRotateEveryLayer) {
  for (std::string_view name : {"llama", "qwen2", "phi3", "qwen3", "gemma3"}) {
    const ArchSpec* spec = find_arch(name);
    ASSERT_NE(spec, nullptr) << name;
    HyperParams hp;
    hp.nope_period = spec->nope_period;
    for (int64_t il = 0; il < 48; ++il) EXPECT_TRUE(hp.layer_has_rope(il)) << name << " " << il;
  }
}

}  // namespace
}  // namespace hearth::models
