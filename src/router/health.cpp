#include "router/health.h"

#include <algorithm>
#include <ctime>

namespace hearth::router {

Admission EndpointHealth::try_acquire(Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (now < cooldown_until_) return Admission::kCoolingDown;
  if (cooldown_until_ != Clock::time_point{}) {
    // The cooldown is over but not yet confirmed: one probe at a time.
    if (probing_) return Admission::kProbeInFlight;
    probing_ = true;
    ++in_flight_;
    ++requests_;
    return Admission::kProbe;
  }
  ++in_flight_;
  ++requests_;
  return Admission::kAdmitted;
}

void EndpointHealth::succeeded(double ttft_ms, int64_t prompt_tokens, int64_t completion_tokens,
                               double cost) {
  std::lock_guard lock(mutex_);
  in_flight_ = std::max(0, in_flight_ - 1);
  probing_ = false;
  cooldown_until_ = {};
  last_error_.clear();
  prompt_tokens_ += prompt_tokens;
  completion_tokens_ += completion_tokens;
  cost_ += cost;
  if (ttft_ms >= 0) {
    if (ttft_ms_.size() < 256) {
      ttft_ms_.push_back(ttft_ms);
    } else {
      ttft_ms_[ttft_next_++ % 256] = ttft_ms;
    }
  }
}

void EndpointHealth::released() {
  std::lock_guard lock(mutex_);
  in_flight_ = std::max(0, in_flight_ - 1);
  probing_ = false;
}

void EndpointHealth::failed(const std::string& reason, int retry_after_s, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  in_flight_ = std::max(0, in_flight_ - 1);
  probing_ = false;
  ++failures_;
  last_error_ = reason;
  const int seconds = std::max(cooldown_s_, retry_after_s);
  if (seconds > 0) {
    cooldown_until_ = now + std::chrono::seconds(seconds);
    cooldown_until_wall_ = std::chrono::system_clock::now() + std::chrono::seconds(seconds);
  }
}

void EndpointHealth::check_result(bool healthy, const std::string& reason) {
  std::lock_guard lock(mutex_);
  if (healthy) {
    // A replica that answers its health check is usable again, without waiting for a probe.
    if (!probing_) cooldown_until_ = {};
    if (last_error_.rfind("health check", 0) == 0) last_error_.clear();
    return;
  }
  last_error_ = "health check: " + reason;
  if (cooldown_s_ > 0) {
    const auto until = Clock::now() + std::chrono::seconds(cooldown_s_);
    if (until > cooldown_until_) {
      cooldown_until_ = until;
      cooldown_until_wall_ = std::chrono::system_clock::now() + std::chrono::seconds(cooldown_s_);
    }
  }
}

void EndpointHealth::count_fallback() {
  std::lock_guard lock(mutex_);
  ++fallbacks_;
}

int EndpointHealth::in_flight() const {
  std::lock_guard lock(mutex_);
  return in_flight_;
}

bool EndpointHealth::cooling_down(Clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return now < cooldown_until_;
}

namespace {
double p50(std::vector<double> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}
std::string iso8601(std::chrono::system_clock::time_point t) {
  const std::time_t s = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}
}  // namespace

nlohmann::ordered_json EndpointHealth::status_json() const {
  std::lock_guard lock(mutex_);
  const auto now = Clock::now();
  const bool cooling = now < cooldown_until_;
  const char* health = cooling                                  ? "cooling_down"
                       : cooldown_until_ != Clock::time_point{} ? "probing"
                                                                : "healthy";
  nlohmann::ordered_json j = {
      {"name", name_},
      {"health", health},
      {"cooldown_until", cooling ? nlohmann::ordered_json(iso8601(cooldown_until_wall_))
                                 : nlohmann::ordered_json(nullptr)},
      {"last_error",
       last_error_.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(last_error_)},
      {"in_flight", in_flight_},
      {"requests", requests_},
      {"failures", failures_},
      {"fallbacks", fallbacks_},
      {"p50_ttft_ms", p50(ttft_ms_)},
      {"prompt_tokens", prompt_tokens_},
      {"completion_tokens", completion_tokens_},
      {"cost_usd", cost_}};
  return j;
}

void EndpointHealth::render_metrics(std::string& out) const {
  auto j = status_json();
  const std::string label = "{target=\"" + name_ + "\"}";
  auto line = [&](const char* metric, const nlohmann::ordered_json& v) {
    out += std::string("hearth_router_target_") + metric + label + " " + v.dump() + "\n";
  };
  line("up", j["health"] == "cooling_down" ? 0 : 1);
  line("in_flight", j["in_flight"]);
  line("requests_total", j["requests"]);
  line("failures_total", j["failures"]);
  line("fallbacks_total", j["fallbacks"]);
  line("ttft_p50_ms", j["p50_ttft_ms"]);
  line("prompt_tokens_total", j["prompt_tokens"]);
  line("completion_tokens_total", j["completion_tokens"]);
  line("cost_usd_total", j["cost_usd"]);
}

}  // namespace hearth::router
