// The SLM-vs-LLM decision matrix: each criterion rated from the measurements by a fixed rule
// (the rules' text is shown in the report, so a reader can check every cell).
#include <algorithm>
#include <cstdio>

#include "compare/compare.h"

namespace hearth::compare {

std::string_view rating_name(Rating rating) {
  switch (rating) {
    case Rating::kGood: return "good";
    case Rating::kFair: return "fair";
    case Rating::kPoor: return "poor";
    case Rating::kUnknown: return "unknown";
  }
  return "unknown";
}

namespace {

std::string format(const char* pattern, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, pattern, value);
  return buffer;
}

// Whether a model can send data off this machine: a remote target, or a route with one.
bool may_leave_machine(const ModelInfo& model) {
  return std::any_of(model.targets.begin(), model.targets.end(),
                     [](const TargetInfo& t) { return !t.local; });
}

}  // namespace

// Thresholds, kept here and repeated in each row's rule text.
constexpr double kLatencyGoodFactor = 2.0;  // p95 within 2x the fastest model's
constexpr double kLatencyFairFactor = 5.0;  // within 5x
constexpr double kCostFairPer1k = 1.0;      // USD per 1000 requests
constexpr double kAgreementGood = 0.6;
constexpr double kAgreementFair = 0.3;
constexpr double kErrorRateFair = 0.05;

Decision decide(const CompareRun& run, const std::vector<ModelSummary>& summaries) {
  Decision d;
  const size_t n = run.models.size();

  MatrixRow latency{"latency",
                    "end-to-end p95 of successful requests: good within 2x the fastest model's, "
                    "fair within 5x, else poor",
                    {}};
  std::optional<double> fastest;
  for (const auto& s : summaries) {
    if (s.e2e_p95 && (!fastest || *s.e2e_p95 < *fastest)) fastest = s.e2e_p95;
  }
  for (size_t m = 0; m < n; ++m) {
    MatrixCell c;
    if (const auto& p95 = summaries[m].e2e_p95; p95 && fastest) {
      const double ratio = *fastest > 0 ? *p95 / *fastest : 1.0;
      c.rating = ratio <= kLatencyGoodFactor   ? Rating::kGood
                 : ratio <= kLatencyFairFactor ? Rating::kFair
                                               : Rating::kPoor;
      c.figure = format("p95 %.0f ms", *p95) + format(" (%.1fx fastest)", ratio);
    } else {
      c.figure = "no successful request";
    }
    latency.cells.push_back(c);
  }

  MatrixRow cost{"cost",
                 "cost per 1000 requests at the router's prices (local answers cost 0): good when "
                 "0, fair up to $1, else poor; unknown when a priced reply carried no usage",
                 {}};
  for (size_t m = 0; m < n; ++m) {
    MatrixCell c;
    if (const auto& per_1k = summaries[m].cost_per_1k) {
      c.rating = *per_1k == 0                ? Rating::kGood
                 : *per_1k <= kCostFairPer1k ? Rating::kFair
                                             : Rating::kPoor;
      c.figure = format("$%.4f / 1k requests", *per_1k);
    } else {
      c.figure = summaries[m].cost_unknown ? "usage missing" : "no successful request";
    }
    cost.cells.push_back(c);
  }

  MatrixRow privacy{"privacy",
                    "good: every request was answered on this machine and the model cannot send "
                    "data elsewhere; fair: all answered here, but its route has a remote target; "
                    "poor: prompts were sent to a remote host",
                    {}};
  for (size_t m = 0; m < n; ++m) {
    MatrixCell c;
    const auto& s = summaries[m];
    if (s.data_left_machine) {
      c.rating = Rating::kPoor;
      std::string hosts;
      for (const auto& [host, count] : s.destinations) {
        if (host == "this machine") continue;
        hosts += (hosts.empty() ? "" : ", ") + host;
      }
      c.figure = "sent to " + hosts;
    } else if (s.requests == s.errors) {
      c.figure = "no successful request";
    } else if (may_leave_machine(run.models[m])) {
      c.rating = Rating::kFair;
      c.figure = "stayed local; route has a remote target";
    } else {
      c.rating = Rating::kGood;
      c.figure = "stayed on this machine";
    }
    privacy.cells.push_back(c);
  }

  MatrixRow capability{
      "capability",
      run.reference ? "mean token F1 against the reference model's answers: good from 0.6, fair "
                      "from 0.3, else poor (agreement, not correctness)"
                    : "mean token F1 against the other models' answers: good from 0.6, fair from "
                      "0.3, else poor (agreement, not correctness)",
      {}};
  for (size_t m = 0; m < n; ++m) {
    MatrixCell c;
    if (run.reference && *run.reference == m) {
      c.rating = summaries[m].requests > summaries[m].errors ? Rating::kGood : Rating::kUnknown;
      c.figure = "the reference";
    } else if (const auto& a = summaries[m].agreement) {
      c.rating = *a >= kAgreementGood   ? Rating::kGood
                 : *a >= kAgreementFair ? Rating::kFair
                                        : Rating::kPoor;
      c.figure = format("F1 %.2f", *a);
    } else {
      c.figure = "nothing to compare with";
    }
    capability.cells.push_back(c);
  }

  MatrixRow reliability{
      "reliability", "share of requests that failed: good at 0, fair up to 5%, else poor", {}};
  for (size_t m = 0; m < n; ++m) {
    MatrixCell c;
    const auto& s = summaries[m];
    if (s.requests > 0) {
      const double rate = static_cast<double>(s.errors) / static_cast<double>(s.requests);
      c.rating = s.errors == 0            ? Rating::kGood
                 : rate <= kErrorRateFair ? Rating::kFair
                                          : Rating::kPoor;
      c.figure = std::to_string(s.errors) + " of " + std::to_string(s.requests) + " failed";
    } else {
      c.figure = "no request";
    }
    reliability.cells.push_back(c);
  }

  d.rows = {latency, cost, privacy, capability, reliability};

  // The verdict: a model qualifies when capability and reliability are at least fair. Among
  // those, one that kept every prompt on this machine (privacy good) is preferred, the fastest
  // first (end-to-end p95); otherwise the fastest qualifying model that sends data away.
  auto qualifies = [&](size_t m) {
    auto ok = [](Rating r) { return r == Rating::kGood || r == Rating::kFair; };
    return ok(d.rows[3].cells[m].rating) && ok(d.rows[4].cells[m].rating);
  };
  auto faster = [&](size_t a, size_t b) {
    const auto& pa = summaries[a].e2e_p95;
    const auto& pb = summaries[b].e2e_p95;
    return pa && (!pb || *pa < *pb);
  };
  std::optional<size_t> local_pick, remote_pick;
  for (size_t m = 0; m < n; ++m) {
    if (!qualifies(m)) continue;
    auto& pick = d.rows[2].cells[m].rating == Rating::kGood ? local_pick : remote_pick;
    if (!pick || faster(m, *pick)) pick = m;
  }
  if (local_pick) {
    const auto& name = run.models[*local_pick].name;
    d.verdict = "Use " + name +
                ": it kept every prompt on this machine, met the capability and reliability "
                "bars, and costs nothing per request.";
    if (remote_pick) {
      d.verdict += " The best model that sends data away, " + run.models[*remote_pick].name +
                   ", was " + (faster(*remote_pick, *local_pick) ? "faster" : "not faster") +
                   " at the 95th percentile.";
    }
  } else if (remote_pick) {
    d.verdict = "Use " + run.models[*remote_pick].name +
                ": no model that stays on this machine met the capability and reliability bars "
                "on this prompt set; it did, at the cost and privacy shown above.";
  } else {
    d.verdict =
        "No model met both the capability and the reliability bars on this prompt set: check "
        "the errors and answers above before choosing.";
  }
  return d;
}

}  // namespace hearth::compare
