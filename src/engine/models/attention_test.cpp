// The attention inner loop of every kernel level the CPU has against a direct two-pass
// softmax in double, for each cache type, with spans that are not a multiple of the block.
#include "engine/models/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "engine/kernels/cpu.h"
#include "engine/runtime/kv_cache.h"

namespace hearth::models {
namespace {

using attention_detail::KeySpan;

struct Case {
  KvCacheType type;
  int64_t hd;
};

TEST(Attention, EveryLevelMatchesTwoPassSoftmax) {
  const int64_t group = 3, n_kv = 2, n_pos = 77;
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<std::pair<const char*, void (*)(const KeySpan&)>> levels = {
      {"scalar", attention_detail::attend_scalar}};
  const KernelLevel best = best_kernel_level(cpu_features());
  if (best >= KernelLevel::kAvx2) levels.emplace_back("avx2", attention_detail::attend_avx2);
  if (best >= KernelLevel::kAvx512) levels.emplace_back("avx512", attention_detail::attend_avx512);

  for (const Case c : {Case{KvCacheType::kF32, 40}, Case{KvCacheType::kF16, 72},
                       Case{KvCacheType::kQ8_0, 64}}) {
    const int64_t kv_dim = n_kv * c.hd;
    KvCache cache(1, n_pos, kv_dim, c.type);
    std::vector<float> row(static_cast<size_t>(kv_dim));
    for (int64_t p = 0; p < n_pos; ++p) {
      for (float& x : row) x = normal(rng);
      cache.write_k(0, p, row.data());
      for (float& x : row) x = normal(rng);
      cache.write_v(0, p, row.data());
    }
    std::vector<float> q(static_cast<size_t>(group * c.hd));
    for (float& x : q) x = normal(rng);
    const int64_t g = 1, begin = 3, end = n_pos;
    const float scale = 0.3f;

    // Expected, from the rows as stored.
    std::vector<std::vector<float>> keys, values;
    for (int64_t p = 0; p < n_pos; ++p) {
      cache.read_k(0, p, row.data());
      keys.emplace_back(row.begin() + g * c.hd, row.begin() + (g + 1) * c.hd);
      cache.read_v(0, p, row.data());
      values.emplace_back(row.begin() + g * c.hd, row.begin() + (g + 1) * c.hd);
    }
    std::vector<double> expected(static_cast<size_t>(group * c.hd));
    for (int64_t h = 0; h < group; ++h) {
      std::vector<double> s;
      double max_s = -INFINITY, sum = 0;
      for (int64_t j = begin; j < end; ++j) {
        double d = 0;
        for (int64_t i = 0; i < c.hd; ++i) d += static_cast<double>(q[h * c.hd + i]) * keys[j][i];
        s.push_back(d * scale);
        max_s = std::max(max_s, s.back());
      }
      for (double& x : s) sum += (x = std::exp(x - max_s));
      for (int64_t j = begin; j < end; ++j) {
        for (int64_t i = 0; i < c.hd; ++i)
          expected[h * c.hd + i] += s[j - begin] / sum * values[j][i];
      }
    }

    for (const auto& [name, attend] : levels) {
      std::vector<float> m(group, -INFINITY), l(group, 0.0f), acc(group * c.hd, 0.0f);
      std::vector<float> work(attention_detail::kBlock * group + 2 * c.hd);
      const size_t offset = cache.bytes_of(g * c.hd);
      attend(KeySpan{.k = cache.k(0, 0) + offset, .v = cache.v(0, 0) + offset,
                     .row_bytes = cache.row_bytes(), .type = c.type, .begin = begin, .end = end,
                     .q = q.data(), .group = group, .hd = c.hd, .scale = scale, .m = m.data(),
                     .l = l.data(), .acc = acc.data(), .work = work.data()});
      for (int64_t h = 0; h < group; ++h) {
        for (int64_t i = 0; i < c.hd; ++i) {
          EXPECT_NEAR(acc[h * c.hd + i] / l[h], expected[h * c.hd + i], 1e-5)
              << name << " type " << static_cast<int>(c.type) << " head " << h << " dim " << i;
        }
      }
    }
  }
}

TEST(KvCache, RowsRoundTripWithinTheTypesPrecision) {
  const int64_t kv_dim = 64;
  std::vector<float> row(kv_dim), back(kv_dim);
  for (int64_t i = 0; i < kv_dim; ++i) row[i] = std::sin(static_cast<float>(i)) * 3.0f;
  for (auto [type, tol] : {std::pair{KvCacheType::kF32, 0.0}, std::pair{KvCacheType::kF16, 2e-3},
                           std::pair{KvCacheType::kQ8_0, 3.0 / 127}}) {
    KvCache cache(2, 4, kv_dim, type);
    cache.write_k(1, 3, row.data());
    cache.read_k(1, 3, back.data());
    for (int64_t i = 0; i < kv_dim; ++i) EXPECT_NEAR(back[i], row[i], tol) << i;
  }
  EXPECT_EQ(KvCache(2, 4, kv_dim, KvCacheType::kF16).bytes(), 2u * 2 * 4 * kv_dim * 2);
}

}  // namespace
}  // namespace hearth::models
