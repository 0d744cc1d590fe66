// Server counters exported at GET /metrics in Prometheus text format. All members are
// updated from many threads; every operation is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
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

// The gauges of one loaded model's scheduler, exported with a model="..." label so that two
// loaded models do not overwrite each other's values.
struct ModelGauges {
  std::atomic<int64_t> queue_depth{0};
  std::atomic<int64_t> slots_busy{0};
  std::atomic<int64_t> slots_total{0};
};

struct Metrics {
  std::atomic<uint64_t> requests_total{0};
  std::atomic<uint64_t> requests_failed{0};
  std::atomic<uint64_t> requests_cancelled{0};
  std::atomic<uint64_t> prompt_tokens_total{0};
  std::atomic<uint64_t> prompt_tokens_cached_total{0};
  std::atomic<uint64_t> generated_tokens_total{0};
  std::atomic<int64_t> requests_in_flight{0};
  Histogram time_to_first_token{{0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}};
  Histogram tokens_per_second{{1, 2, 5, 10, 20, 40, 80, 160, 320}};

  // Gauges for a model being loaded. They are exported while the returned pointer (held by
  // the model's scheduler) lives, as hearth_queue_depth{model="<model>"} and so on; the
  // unlabeled hearth_queue_depth, hearth_slots_busy and hearth_slots_total are the sums over
  // all models. Two live registrations of one name are added together.
  std::shared_ptr<ModelGauges> add_model(std::string model);

  // Set once before the server starts (then only read): the HTTP front's open connections.
  std::function<int64_t()> open_connections;

  std::string render() const;

 private:
  mutable std::mutex models_mutex_;  // guards models_
  std::vector<std::pair<std::string, std::weak_ptr<ModelGauges>>> models_;
};

}  // namespace hearth::server
