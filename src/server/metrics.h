// Server counters exported at GET /metrics in Prometheus text format. All members are
// updated from many threads; every operation is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace hearth::server {

// A fixed-bucket histogram (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double seconds);
  void render(std::string& out, const std::string& name, const std::string& help) const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mutex_;
  std::vector<uint64_t> counts_;  // per bucket, cumulative when rendered
  double sum_ = 0;
  uint64_t total_ = 0;
};

struct Metrics {
  std::atomic<uint64_t> requests_total{0};
  std::atomic<uint64_t> requests_failed{0};
  std::atomic<uint64_t> requests_cancelled{0};
  std::atomic<uint64_t> prompt_tokens_total{0};
  std::atomic<uint64_t> prompt_tokens_cached_total{0};
  std::atomic<uint64_t> generated_tokens_total{0};
  std::atomic<int64_t> requests_in_flight{0};
  std::atomic<int64_t> queue_depth{0};
  std::atomic<int64_t> slots_busy{0};
  std::atomic<int64_t> slots_total{0};
  Histogram time_to_first_token{{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  Histogram tokens_per_second{{1, 2, 5, 10, 20, 40, 80, 160, 320}};

  std::string render() const;
};

}  // namespace hearth::server
