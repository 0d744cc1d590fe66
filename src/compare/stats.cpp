// Percentiles, token F1, cost and the per-model summary of a comparison.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

#include "compare/compare.h"

namespace hearth::compare {

std::string_view kind_name(ModelKind kind) {
  switch (kind) {
    case ModelKind::kLocal: return "local";
    case ModelKind::kRoute: return "route";
    case ModelKind::kRemote: return "remote";
  }
  return "local";
}

std::optional<double> percentile(std::vector<double> values, double p) {
  if (values.empty()) return std::nullopt;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size() - 1);
  const size_t low = static_cast<size_t>(std::floor(rank));
  const size_t high = std::min(low + 1, values.size() - 1);
  return values[low] + (values[high] - values[low]) * (rank - static_cast<double>(low));
}

namespace {

std::map<std::string, int> word_counts(const std::string& text) {
  std::map<std::string, int> counts;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) ++counts[word];
    word.clear();
  };
  for (unsigned char c : text) {
    // Bytes of multi-byte UTF-8 characters count as word characters, so non-Latin words stay
    // whole instead of vanishing.
    if (std::isalnum(c) || c >= 0x80) {
      word.push_back(static_cast<char>(std::tolower(c)));
    } else {
      flush();
    }
  }
  flush();
  return counts;
}

}  // namespace

double token_f1(const std::string& a, const std::string& b) {
  const auto ca = word_counts(a);
  const auto cb = word_counts(b);
  if (ca.empty() && cb.empty()) return 1.0;
  if (ca.empty() || cb.empty()) return 0.0;
  int common = 0, na = 0, nb = 0;
  for (const auto& [w, n] : ca) {
    na += n;
    if (auto it = cb.find(w); it != cb.end()) common += std::min(n, it->second);
  }
  for (const auto& [w, n] : cb) nb += n;
  if (common == 0) return 0.0;
  const double precision = static_cast<double>(common) / na;
  const double recall = static_cast<double>(common) / nb;
  return 2 * precision * recall / (precision + recall);
}

const TargetInfo* answering_target(const ModelInfo& model, const std::string& target) {
  const std::string name = target.substr(0, target.find('#'));
  for (const auto& t : model.targets) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::optional<double> request_cost(const ModelInfo& model, const RequestRecord& record) {
  if (model.kind == ModelKind::kLocal) return 0.0;
  const TargetInfo* t = answering_target(model, record.target);
  if (!t) return std::nullopt;
  if (t->local || (t->price_input == 0 && t->price_output == 0)) return 0.0;
  if (record.prompt_tokens < 0 || record.completion_tokens < 0) return std::nullopt;
  return (static_cast<double>(record.prompt_tokens) * t->price_input +
          static_cast<double>(record.completion_tokens) * t->price_output) /
         1e6;
}

namespace {

// Mean F1 of model m's answers against those of `others`, over the (prompt, run) pairs both
// answered.
std::optional<double> mean_agreement(const CompareRun& run, size_t m,
                                     const std::vector<size_t>& others) {
  std::map<std::pair<size_t, int>, const RequestRecord*> mine;
  std::map<std::tuple<size_t, size_t, int>, const RequestRecord*> theirs;
  for (const auto& r : run.records) {
    if (!r.ok) continue;
    if (r.model == m) mine[{r.prompt, r.run}] = &r;
    theirs[{r.model, r.prompt, r.run}] = &r;
  }
  double sum = 0;
  size_t n = 0;
  for (const auto& [key, record] : mine) {
    for (size_t o : others) {
      auto it = theirs.find({o, key.first, key.second});
      if (it == theirs.end()) continue;
      sum += token_f1(record->answer, it->second->answer);
      ++n;
    }
  }
  if (n == 0) return std::nullopt;
  return sum / static_cast<double>(n);
}

}  // namespace

std::vector<ModelSummary> summarize(const CompareRun& run) {
  std::vector<ModelSummary> out(run.models.size());
  for (size_t m = 0; m < run.models.size(); ++m) {
    const ModelInfo& model = run.models[m];
    ModelSummary& s = out[m];
    std::vector<double> ttft, e2e, gen, prompt_tps;
    double cost_sum = 0, tokens_sum = 0;
    size_t cost_n = 0, tokens_n = 0;
    std::map<std::string, size_t> destinations;
    std::set<std::string> seen_errors;
    for (const auto& r : run.records) {
      if (r.model != m) continue;
      ++s.requests;
      if (!r.ok) {
        ++s.errors;
        if (s.error_samples.size() < 3 && seen_errors.insert(r.error).second) {
          s.error_samples.push_back(r.error);
        }
        continue;
      }
      if (r.ttft_ms >= 0) ttft.push_back(r.ttft_ms);
      e2e.push_back(r.total_ms);
      if (r.generation_tps > 0) gen.push_back(r.generation_tps);
      if (r.prompt_tps > 0) prompt_tps.push_back(r.prompt_tps);
      if (r.completion_tokens >= 0) {
        tokens_sum += static_cast<double>(r.completion_tokens);
        ++tokens_n;
      }
      if (auto c = request_cost(model, r)) {
        cost_sum += *c;
        ++cost_n;
      } else {
        ++s.cost_unknown;
      }
      const TargetInfo* t =
          model.kind == ModelKind::kLocal ? nullptr : answering_target(model, r.target);
      if (t && !t->local) {
        ++destinations[t->host];
        s.data_left_machine = true;
      } else if (model.kind == ModelKind::kLocal || t) {
        ++destinations["this machine"];
      } else {
        ++destinations["unknown target"];
      }
    }
    s.ttft_p50 = percentile(ttft, 50);
    s.ttft_p95 = percentile(ttft, 95);
    s.e2e_p50 = percentile(e2e, 50);
    s.e2e_p95 = percentile(e2e, 95);
    s.gen_tps_p50 = percentile(gen, 50);
    s.prompt_tps_p50 = percentile(prompt_tps, 50);
    if (tokens_n) s.completion_tokens_mean = tokens_sum / static_cast<double>(tokens_n);
    if (cost_n > 0 && s.cost_unknown == 0) {
      s.cost_per_1k = cost_sum / static_cast<double>(cost_n) * 1000.0;
    }
    s.destinations.assign(destinations.begin(), destinations.end());
    std::vector<size_t> others;
    if (run.reference) {
      if (*run.reference != m) others.push_back(*run.reference);
    } else {
      for (size_t o = 0; o < run.models.size(); ++o) {
        if (o != m) others.push_back(o);
      }
    }
    if (!others.empty()) s.agreement = mean_agreement(run, m, others);
  }
  return out;
}

}  // namespace hearth::compare
