#include "engine/kernels/membw.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "engine/platform/cpu_features.h"
#include "engine/tensor/huge_page_buffer.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace hearth {
namespace {

#if defined(__x86_64__)
// Four 32-byte loads per step, where the CPU has AVX2.
__attribute__((target("avx2"))) uint64_t read_avx2(const uint8_t* p, size_t n) {
  __m256i acc = _mm256_setzero_si256();
  for (size_t i = 0; i + 128 <= n; i += 128) {
    const __m256i a = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i));
    const __m256i b = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32));
    const __m256i c = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64));
    const __m256i d = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96));
    acc = _mm256_xor_si256(acc, _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}
#endif

// The portable loop, for other architectures and x86 CPUs without AVX2.
uint64_t read_scalar(const uint8_t* p, size_t n) {
  uint64_t acc = 0;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    acc ^= v;
  }
  return acc;
}

uint64_t read(bool avx2, const uint8_t* p, size_t n) {
#if defined(__x86_64__)
  if (avx2) return read_avx2(p, n);
#endif
  (void)avx2;
  return read_scalar(p, n);
}

}  // namespace

BandwidthProbe::BandwidthProbe(int n_threads, size_t bytes)
    : n_threads_(std::max(1, n_threads)),
      bytes_(bytes / (128 * static_cast<size_t>(n_threads_)) * 128 *
             static_cast<size_t>(n_threads_)) {
  // The same kind of memory as the rewritten weights, in huge pages where the kernel allows,
  // so the figure is the limit those weights can be read at (ordinary 4 KiB pages read 6-10%
  // slower here).
  buffer_ = HugePageBuffer::allocate(bytes_);
  if (!buffer_) return;
  // Touch every page so the passes measure reads, not page faults.
  std::memset(buffer_->data(), 1, bytes_);
  buffer_->collapse();
}

BandwidthProbe::~BandwidthProbe() = default;

BandwidthResult BandwidthProbe::measure(int passes) {
  if (!buffer_ || bytes_ == 0) return {};
  const uint8_t* raw = buffer_->data();
  const bool avx2 = cpu_features().avx2;  // never set off x86
  const size_t chunk = bytes_ / static_cast<size_t>(n_threads_);
  double best = 0;
  volatile uint64_t sink = 0;
  for (int pass = 0; pass < passes; ++pass) {
    std::vector<uint64_t> results(static_cast<size_t>(n_threads_));
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    for (int t = 0; t < n_threads_; ++t) {
      threads.emplace_back([&, t] {
        const uint8_t* p = raw + chunk * static_cast<size_t>(t);
        results[static_cast<size_t>(t)] = read(avx2, p, chunk);
      });
    }
    for (auto& th : threads) th.join();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (uint64_t r : results) sink = sink ^ r;
    best = std::max(best, static_cast<double>(bytes_) / seconds / 1e9);
  }
  (void)sink;
  return {best, bytes_, passes};
}

BandwidthResult measure_read_bandwidth(int n_threads, size_t bytes, int passes) {
  BandwidthProbe probe(n_threads, bytes);
  return probe.measure(passes);
}

}  // namespace hearth
