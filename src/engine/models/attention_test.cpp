// Attention with every kernel table the CPU runs against a direct two-pass softmax in double
// over the cached rows as stored: prefill tiles (lengths around the tile sizes, GQA ratios
// 1/4/7, with and without a sliding window), decode batches whose keys are split into
// chunks, and mixed batches, for each cache type.
#include "engine/models/attention.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "engine/kernels/kernel_table.h"
#include "engine/models/kv_cache.h"
#include "engine/platform/thread_pool.h"

namespace hearth::models {
namespace {

using attention_detail::attention_with_kernels;

// The tables with a tile of their own (those above avx512 reuse its tile).
std::vector<const KernelTable*> tables() {
  std::vector<const KernelTable*> out = {&kPortableKernels};
  for (const char* name : {"avx2", "avx512"}) {
    if (const KernelTable* table = runnable_kernels(name)) out.push_back(table);
  }
  return out;
}

struct Shape {
  KvCacheType type = KvCacheType::kF16;
  int64_t hd = 64;
  int64_t group = 1;
  int64_t n_kv = 2;
  int64_t n_swa = 0;
  float q_scale = 1;  // larger: peakier softmax
  // With n_swa: a cache that keeps only the window (plus the batch), filled token by token as
  // decoding does, so its rows have moved (kv_cache.h).
  bool windowed_cache = false;
};

// A sequence of the batch: n_past cached positions, then n_new tokens evaluated now.
struct SeqSpec {
  int64_t n_past = 0;
  int64_t n_new = 1;
};

std::string describe(const KernelTable& kernels, const Shape& c) {
  return std::string(kernels.name) + " type " + std::to_string(static_cast<int>(c.type)) + " hd " +
         std::to_string(c.hd) + " group " + std::to_string(c.group) + " swa " +
         std::to_string(c.n_swa);
}

void check(const Shape& c, const std::vector<SeqSpec>& specs, ThreadPool* pool, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  HyperParams hp;
  hp.n_head_kv = c.n_kv;
  hp.n_head = c.group * c.n_kv;
  hp.head_dim = c.hd;
  hp.n_swa = c.n_swa;
  const int64_t kv_dim = hp.kv_dim();
  const int64_t q_dim = hp.q_dim();

  std::vector<std::unique_ptr<KvCache>> caches;
  std::vector<SequenceBatch> seqs;
  ForwardScratch s;
  std::vector<float> row(static_cast<size_t>(kv_dim));
  for (size_t i = 0; i < specs.size(); ++i) {
    const int64_t n = specs[i].n_past + specs[i].n_new;
    if (c.windowed_cache) {
      caches.push_back(std::make_unique<KvCache>(n, c.n_kv, c.hd, c.type,
                                                 std::vector<int64_t>{c.n_swa}, specs[i].n_new));
    } else {
      caches.push_back(std::make_unique<KvCache>(1, n, c.n_kv, c.hd, c.type));
    }
    KvCache& cache = *caches.back();
    auto write = [&](int64_t p) {
      for (float& x : row) x = normal(rng);
      cache.write_k(0, p, row.data());
      for (float& x : row) x = normal(rng);
      cache.write_v(0, p, row.data());
    };
    for (int64_t p = 0; p < specs[i].n_past; ++p) {
      ASSERT_TRUE(cache.reserve(1).has_value());
      write(p);
      cache.advance(1);
    }
    ASSERT_TRUE(cache.reserve(specs[i].n_new).has_value());
    for (int64_t p = specs[i].n_past; p < n; ++p) write(p);
    seqs.push_back(SequenceBatch{.cache = caches.back().get()});
    for (int64_t t = 0; t < specs[i].n_new; ++t) {
      s.row_seq.push_back(static_cast<int32_t>(i));
      s.row_pos.push_back(specs[i].n_past + t);
    }
  }
  const auto n_tokens = static_cast<int64_t>(s.row_pos.size());
  s.q.resize(static_cast<size_t>(n_tokens * q_dim));
  for (float& x : s.q) x = normal(rng) * c.q_scale;

  // Expected, from the rows as stored.
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.hd));
  std::vector<double> expected(static_cast<size_t>(n_tokens * q_dim));
  std::vector<float> krow(static_cast<size_t>(kv_dim)), vrow(static_cast<size_t>(kv_dim));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const KvCache& cache = *caches[static_cast<size_t>(s.row_seq[t])];
    const int64_t pos = s.row_pos[t];
    const int64_t lo = c.n_swa > 0 ? std::max<int64_t>(0, pos - c.n_swa + 1) : 0;
    for (int64_t hq = 0; hq < hp.n_head; ++hq) {
      const int64_t g = hq / c.group;
      const float* q = s.q.data() + t * q_dim + hq * c.hd;
      std::vector<double> w;
      double max_w = -INFINITY, sum = 0;
      for (int64_t j = lo; j <= pos; ++j) {
        cache.read_k(0, j, krow.data());
        double d = 0;
        for (int64_t i = 0; i < c.hd; ++i) d += static_cast<double>(q[i]) * krow[g * c.hd + i];
        w.push_back(d * scale);
        max_w = std::max(max_w, w.back());
      }
      for (double& x : w) sum += (x = std::exp(x - max_w));
      double* e = expected.data() + t * q_dim + hq * c.hd;
      for (int64_t j = lo; j <= pos; ++j) {
        cache.read_v(0, j, vrow.data());
        for (int64_t i = 0; i < c.hd; ++i) e[i] += w[j - lo] / sum * vrow[g * c.hd + i];
      }
    }
  }

  std::vector<float> out(static_cast<size_t>(n_tokens * q_dim));
  for (const KernelTable* table : tables()) {
    std::fill(out.begin(), out.end(), NAN);
    attention_with_kernels(*table, hp, seqs, 0, s, out.data(), pool);
    int failures = 0;
    for (int64_t i = 0; i < n_tokens * q_dim && failures < 5; ++i) {
      if (std::abs(out[i] - expected[i]) <= 2e-5) continue;
      ++failures;
      ADD_FAILURE() << describe(*table, c) << " token " << i / q_dim << " head " << i % q_dim / c.hd
                    << " dim " << i % c.hd << ": " << out[i] << " vs " << expected[i];
    }
  }
}

TEST(Attention, PrefillMatchesReference) {
  ThreadPool pool(3);
  uint32_t seed = 1;
  for (const int64_t group : {1, 4, 7}) {
    for (const int64_t n_swa : {0, 37}) {
      for (const auto& [type, hd] :
           {std::pair{KvCacheType::kF16, 64}, std::pair{KvCacheType::kF32, 40},
            std::pair{KvCacheType::kQ8_0, 96}, std::pair{KvCacheType::kF16, 72}}) {
        const Shape c{.type = type, .hd = hd, .group = group, .n_swa = n_swa};
        for (const int64_t n : {1, 2, 9, 63, 64, 65, 150}) {
          check(c, {{.n_past = 0, .n_new = n}}, &pool, seed++);
        }
        // Appended to a cache that already holds keys, single-threaded.
        check(c, {{.n_past = 70, .n_new = 33}}, nullptr, seed++);
      }
    }
  }
}

TEST(Attention, PeakedScoresStayAccurate) {
  for (const KvCacheType type : {KvCacheType::kF16, KvCacheType::kQ8_0}) {
    check({.type = type, .hd = 64, .group = 7, .q_scale = 8}, {{.n_past = 10, .n_new = 100}},
          nullptr, 7);
  }
}

TEST(Attention, DecodeChunksMatchReference) {
  ThreadPool pool(4);
  uint32_t seed = 100;
  for (const auto& [type, hd] :
       {std::pair{KvCacheType::kF16, 64}, std::pair{KvCacheType::kQ8_0, 64},
        std::pair{KvCacheType::kF32, 80}}) {
    for (const int64_t group : {1, 7}) {
      for (const int64_t n_swa : {0, 300}) {
        const Shape c{.type = type, .hd = hd, .group = group, .n_kv = 1, .n_swa = n_swa};
        // One sequence: its keys split over the threads.
        check(c, {{.n_past = 1200, .n_new = 1}}, &pool, seed++);
        // Several sequences, one token each, contexts of very different lengths.
        check(c, {{.n_past = 700}, {.n_past = 4}, {.n_past = 0}, {.n_past = 301}}, &pool, seed++);
        // A prompt and a decode in one batch.
        check(c, {{.n_past = 600, .n_new = 1}, {.n_past = 3, .n_new = 20}}, &pool, seed++);
      }
    }
  }
}

// gemma3's local layers: the cache holds only the window, its rows moved as decoding went on.
TEST(Attention, WindowedCacheMatchesReference) {
  ThreadPool pool(3);
  uint32_t seed = 200;
  for (const auto& [type, hd] :
       {std::pair{KvCacheType::kF16, 32}, std::pair{KvCacheType::kQ8_0, 64},
        std::pair{KvCacheType::kF32, 40}}) {
    for (const int64_t group : {1, 4}) {
      const Shape c{.type = type, .hd = hd, .group = group, .n_swa = 12, .windowed_cache = true};
      check(c, {{.n_past = 40, .n_new = 1}}, &pool, seed++);
      check(c, {{.n_past = 57, .n_new = 9}}, &pool, seed++);
      check(c, {{.n_past = 5, .n_new = 30}, {.n_past = 300, .n_new = 1}}, &pool, seed++);
      check(c, {{.n_past = 1000, .n_new = 1}}, nullptr, seed++);
    }
  }
}

TEST(KvCache, WindowedLayersKeepOnlyTheirWindow) {
  const int64_t capacity = 1000, window = 12, batch = 8, head_dim = 32;
  KvCache cache(capacity, 1, head_dim, KvCacheType::kF32, {window, 0}, batch);
  EXPECT_EQ(cache.layer_rows(0), window - 1 + batch);
  EXPECT_EQ(cache.layer_rows(1), capacity);
  EXPECT_EQ(cache.bytes(), 2u * (window - 1 + batch + capacity) * head_dim * sizeof(float));
  std::vector<float> row(head_dim), back(head_dim);
  for (int64_t pos = 0; pos < 100; ++pos) {
    ASSERT_TRUE(cache.reserve(1).has_value());
    row[0] = static_cast<float>(pos);
    for (int64_t layer = 0; layer < 2; ++layer) cache.write_k(layer, pos, row.data());
    cache.advance(1);
  }
  // Every position the next token's window needs is still there, in order.
  EXPECT_LE(cache.layer_base(0), 100 - window + 1);
  for (int64_t pos = 100 - window + 1; pos < 100; ++pos) {
    cache.read_k(0, pos, back.data());
    EXPECT_EQ(back[0], static_cast<float>(pos));
  }
  // A batch larger than the layer was sized for is an error, not an overrun.
  EXPECT_FALSE(cache.reserve(batch + 1).has_value());
  // Rewinding within the window keeps the prefix; behind it clears everything.
  EXPECT_EQ(cache.truncate(98), 98);
  EXPECT_EQ(cache.truncate(20), 0);
  EXPECT_EQ(cache.layer_base(0), 0);
}

TEST(KvCache, RowsRoundTripWithinTheTypesPrecision) {
  const int64_t n_head_kv = 2, head_dim = 32, kv_dim = n_head_kv * head_dim;
  std::vector<float> row(kv_dim), back(kv_dim);
  for (int64_t i = 0; i < kv_dim; ++i) row[i] = std::sin(static_cast<float>(i)) * 3.0f;
  for (auto [type, tol] : {std::pair{KvCacheType::kF32, 0.0}, std::pair{KvCacheType::kF16, 2e-3},
                           std::pair{KvCacheType::kQ8_0, 3.0 / 127}}) {
    KvCache cache(2, 4, n_head_kv, head_dim, type);
    cache.write_k(1, 3, row.data());
    cache.read_k(1, 3, back.data());
    for (int64_t i = 0; i < kv_dim; ++i) EXPECT_NEAR(back[i], row[i], tol) << i;
  }
  EXPECT_EQ(KvCache(2, 4, n_head_kv, head_dim, KvCacheType::kF16).bytes(), 2u * 2 * 4 * kv_dim * 2);
}

// Head-major: each head's rows for all positions are contiguous, which attention relies on.
TEST(KvCache, EachHeadsPositionsAreContiguous) {
  const int64_t n_head_kv = 3, head_dim = 4, capacity = 5;
  KvCache cache(1, capacity, n_head_kv, head_dim, KvCacheType::kF32);
  std::vector<float> row(n_head_kv * head_dim);
  for (int64_t pos = 0; pos < capacity; ++pos) {
    for (int64_t i = 0; i < n_head_kv * head_dim; ++i) row[i] = static_cast<float>(100 * pos + i);
    cache.write_v(0, pos, row.data());
  }
  EXPECT_EQ(cache.head_row_bytes(), head_dim * sizeof(float));
  for (int64_t h = 0; h < n_head_kv; ++h) {
    const auto* head = reinterpret_cast<const float*>(cache.v_head(0, h));
    for (int64_t pos = 0; pos < capacity; ++pos) {
      for (int64_t d = 0; d < head_dim; ++d) {
        EXPECT_EQ(head[pos * head_dim + d], static_cast<float>(100 * pos + h * head_dim + d));
      }
    }
  }
}

}  // namespace
}  // namespace hearth::models
