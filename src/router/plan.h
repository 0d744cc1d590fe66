// The router's decision for one request, made before anything is sent: the route, the task
// (header or classifier), the privacy matches, and the ordered chain of targets to try, with
// the targets left out and why. `hearth route explain` prints exactly this, so the decision
// a user inspects is the one a request gets. Pure: no I/O, no model.
//
// Thread-safe: functions of their arguments only.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "router/config.h"

namespace hearth::router {

struct PlanInput {
  std::string route;
  std::string text;  // every message's content (or prompt, or inputs), joined
  bool has_tools = false;
  std::optional<std::string> task_header;  // X-Hearth-Task
  bool privacy_header = false;             // X-Hearth-Privacy: local-only
};

struct Skipped {
  std::string target;
  std::string reason;  // "privacy", "policy", "prompt_too_long"
};

struct Plan {
  std::string route;
  std::string task;
  std::string task_source;  // "header" | "classifier"
  std::vector<std::string> privacy_matches;
  bool local_only = false;  // privacy forced local targets only
  int estimated_prompt_tokens = 0;
  std::vector<std::string> chain;  // target names, in the order they are tried
  std::vector<Skipped> skipped;

  nlohmann::ordered_json to_json() const;
};

// A prompt's token count before any tokenizer runs: one token per 4 bytes, rounded up (the
// usual English ratio of BPE vocabularies; documented in docs/router.md).
int estimate_tokens(const std::string& text);

// The plan for `input` under `config`; nullopt when the route does not exist.
std::optional<Plan> make_plan(const RouterConfig& config, const PlanInput& input);

}  // namespace hearth::router
