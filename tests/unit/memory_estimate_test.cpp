// The shared memory estimate (hearth/memory_estimate.h) against what the engine allocates: a
// session's KV cache of every type, on models whose head_dim does and does not suit Q8_0.
#include "hearth/memory_estimate.h"

#include <gtest/gtest.h>

#include <string>

#include "hearth/engine.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

TEST(MemoryEstimate, KvCacheBytesMatchTheSession) {
  // tiny-gemma3-f16: 5 of its 6 layers keep only their window (12) plus a batch (8).
  for (const std::string name :
       {"stories260K", "tiny-qwen2-q8_0", "tiny-llama-spm-f16", "tiny-gemma3-f16"}) {
    auto model = Model::load(testing::fixtures_dir() / "models" / (name + ".gguf"),
                             ModelOptions{.n_threads = 1});
    ASSERT_TRUE(model.has_value()) << model.error().message;
    const ModelInfo& info = (*model)->info();
    const KvShape shape = kv_shape_of(info, 8);
    if (name == "tiny-gemma3-f16") EXPECT_EQ(shape.n_swa_layers, 5);
    // stories260K's heads are too small for Q8_0 blocks: its Q8_0 request falls back to F16.
    if (name == "stories260K") EXPECT_NE(info.head_dim % 32, 0);
    for (KvCacheType type : {KvCacheType::kF16, KvCacheType::kQ8_0, KvCacheType::kF32}) {
      Session session(*model, SessionOptions{.n_ctx = 48, .n_batch = 8, .kv_type = type});
      EXPECT_EQ(kv_cache_bytes(shape, 48, type), session.kv_cache_bytes())
          << name << " type " << static_cast<int>(type);
    }
  }
}

TEST(MemoryEstimate, ModelMemoryCountsEverySessionsCacheByType) {
  const KvShape shape{4, 2, 64};
  const uint64_t f16 = kv_cache_bytes(shape, 1024, KvCacheType::kF16);
  EXPECT_EQ(f16, 2ull * 4 * 2 * 1024 * 64 * 2);
  EXPECT_EQ(kv_cache_bytes(shape, 1024, KvCacheType::kF32), 2 * f16);
  EXPECT_EQ(kv_cache_bytes(shape, 1024, KvCacheType::kQ8_0), f16 / 64 * 34);
  EXPECT_EQ(model_memory_bytes(1000, shape, 1024, 3, KvCacheType::kF16), 1000 + 3 * f16);
  EXPECT_EQ(model_memory_bytes(1000, KvShape{}, 1024, 3, KvCacheType::kF16), 1000u);
  // Q8_0 on a head_dim it cannot hold is F16.
  EXPECT_EQ(kv_cache_bytes({4, 2, 48}, 16, KvCacheType::kQ8_0),
            kv_cache_bytes({4, 2, 48}, 16, KvCacheType::kF16));
}

TEST(MemoryEstimate, GuessBeforeTheFileIsReadFollowsTheKvType) {
  const uint64_t file = 1ull << 30;
  EXPECT_EQ(model_memory_guess(file, KvCacheType::kF16), file + file / 4 + (64ull << 20));
  EXPECT_LT(model_memory_guess(file, KvCacheType::kQ8_0),
            model_memory_guess(file, KvCacheType::kF16));
  EXPECT_GT(model_memory_guess(file, KvCacheType::kF32),
            model_memory_guess(file, KvCacheType::kF16));
}

}  // namespace
}  // namespace hearth
