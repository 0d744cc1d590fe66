// The state of one endpoint the router sends requests to (a local target, or one replica of
// an openai target): cooldown after a failure, the one probe after a cooldown, and the
// counters /v1/router/status and /metrics show.
//
// Cooldown: a failure cools the endpoint down until now + cooldown_s (or the upstream's
// Retry-After, when longer). Meanwhile try_acquire() refuses it. When the cooldown ends the
// next request is the probe: it is let through alone (others still skip the endpoint) and
// its outcome ends the cooldown (success) or starts a new one (failure).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace hearth::router {

using Clock = std::chrono::steady_clock;

enum class Admission { kAdmitted, kProbe, kCoolingDown, kProbeInFlight };

class EndpointHealth {
 public:
  EndpointHealth(std::string name, int cooldown_s)
      : name_(std::move(name)), cooldown_s_(cooldown_s) {}

  const std::string& name() const { return name_; }

  // Whether a request may use the endpoint now; kAdmitted or kProbe count it in flight (end
  // it with succeeded() or failed()).
  Admission try_acquire(Clock::time_point now = Clock::now());
  // The request ended well (or failed for a reason that is not the endpoint's fault: the
  // client left); `ttft_ms` < 0 when it has no first token (embeddings).
  void succeeded(double ttft_ms, int64_t prompt_tokens, int64_t completion_tokens, double cost);
  void released();  // ended without an outcome about the endpoint (client cancelled)
  // The request failed: cool down for max(cooldown_s, retry_after_s); `reason` is shown.
  void failed(const std::string& reason, int retry_after_s = 0,
              Clock::time_point now = Clock::now());
  // A health check's outcome: a failure cools down; a success ends a cooldown early.
  void check_result(bool healthy, const std::string& reason);
  void count_fallback();

  int in_flight() const;
  bool cooling_down(Clock::time_point now = Clock::now()) const;
  // The status JSON of this endpoint.
  nlohmann::ordered_json status_json() const;
  // Prometheus lines with the label target="<name>".
  void render_metrics(std::string& out) const;

 private:
  std::string name_;
  int cooldown_s_;
  mutable std::mutex mutex_;
  Clock::time_point cooldown_until_{};
  std::chrono::system_clock::time_point cooldown_until_wall_{};
  bool probing_ = false;
  std::string last_error_;
  int in_flight_ = 0;
  uint64_t requests_ = 0, failures_ = 0, fallbacks_ = 0;
  int64_t prompt_tokens_ = 0, completion_tokens_ = 0;
  double cost_ = 0;
  std::vector<double> ttft_ms_;  // the last 256, a ring
  size_t ttft_next_ = 0;
};

}  // namespace hearth::router
