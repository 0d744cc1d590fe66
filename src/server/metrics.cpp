#include "server/metrics.h"

#include <algorithm>
#include <cstdio>
#include <map>

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

std::shared_ptr<ModelGauges> Metrics::add_model(std::string model) {
  auto gauges = std::make_shared<ModelGauges>();
  std::lock_guard lock(models_mutex_);
  std::erase_if(models_, [](const auto& entry) { return entry.second.expired(); });
  models_.emplace_back(std::move(model), gauges);
  return gauges;
}

namespace {

// A label value as the Prometheus text format wants it: backslash, quote and newline escaped.
std::string escape_label_value(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

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
  if (open_connections) {
    gauge("hearth_http_connections", "Open HTTP connections.", open_connections());
  }

  // Per model (sorted by name, so the output is stable), then summed for the unlabeled total.
  struct Values {
    int64_t queue_depth = 0, slots_busy = 0, slots_total = 0;
  };
  std::map<std::string, Values> per_model;
  {
    std::lock_guard lock(models_mutex_);
    for (const auto& [model, weak] : models_) {
      const std::shared_ptr<ModelGauges> gauges = weak.lock();
      if (!gauges) continue;
      Values& values = per_model[model];
      values.queue_depth += gauges->queue_depth.load();
      values.slots_busy += gauges->slots_busy.load();
      values.slots_total += gauges->slots_total.load();
    }
  }
  auto model_gauge = [&](const char* name, const char* help, int64_t Values::*field) {
    int64_t total = 0;
    for (const auto& entry : per_model) total += entry.second.*field;
    gauge(name, help, total);
    for (const auto& [model, values] : per_model) {
      out += std::string(name) + "{model=\"" + escape_label_value(model) + "\"} " +
             std::to_string(values.*field) + "\n";
    }
  };
  model_gauge("hearth_queue_depth", "Requests waiting for a slot (unlabeled: all models).",
              &Values::queue_depth);
  model_gauge("hearth_slots_busy", "Slots generating (unlabeled: all models).",
              &Values::slots_busy);
  model_gauge("hearth_slots_total", "Slots available (unlabeled: all models).",
              &Values::slots_total);
  time_to_first_token.render(out, "hearth_time_to_first_token_seconds",
                             "Time from request to first generated token.");
  tokens_per_second.render(out, "hearth_tokens_per_second",
                           "Generation speed of finished requests.");
  return out;
}

}  // namespace hearth::server
