#include "server/metrics.h"

#include <cstdio>

namespace hearth::server {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double value) {
  std::lock_guard lock(mutex_);
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;
  ++counts_[i];
  sum_ += value;
  ++total_;
}

void Histogram::render(std::string& out, const std::string& name, const std::string& help) const {
  std::lock_guard lock(mutex_);
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  uint64_t cumulative = 0;
  char line[256];
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    std::snprintf(line, sizeof line, "%s_bucket{le=\"%g\"} %llu\n", name.c_str(), bounds_[i],
                  static_cast<unsigned long long>(cumulative));
    out += line;
  }
  std::snprintf(line, sizeof line, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %g\n%s_count %llu\n",
                name.c_str(), static_cast<unsigned long long>(total_), name.c_str(), sum_,
                name.c_str(), static_cast<unsigned long long>(total_));
  out += line;
}

std::string Metrics::render() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name +
           " " + std::to_string(v) + "\n";
  };
  auto gauge = [&](const char* name, const char* help, int64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name +
           " " + std::to_string(v) + "\n";
  };
  counter("hearth_requests_total", "Generation requests received.", requests_total);
  counter("hearth_requests_failed_total", "Requests answered with an error.", requests_failed);
  counter("hearth_requests_cancelled_total", "Requests cancelled by a disconnecting client.",
          requests_cancelled);
  counter("hearth_prompt_tokens_total", "Prompt tokens processed.", prompt_tokens_total);
  counter("hearth_prompt_tokens_cached_total", "Prompt tokens reused from the prefix cache.",
          prompt_tokens_cached_total);
  counter("hearth_generated_tokens_total", "Tokens generated.", generated_tokens_total);
  gauge("hearth_requests_in_flight", "Requests being processed.", requests_in_flight);
  gauge("hearth_queue_depth", "Requests waiting for a slot.", queue_depth);
  gauge("hearth_slots_busy", "Slots generating.", slots_busy);
  gauge("hearth_slots_total", "Slots available.", slots_total);
  time_to_first_token.render(out, "hearth_time_to_first_token_seconds",
                             "Time from request to first generated token.");
  tokens_per_second.render(out, "hearth_tokens_per_second",
                           "Generation speed of finished requests.");
  return out;
}

}  // namespace hearth::server
