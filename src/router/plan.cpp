#include "router/plan.h"

#include <algorithm>

#include "router/detect.h"

namespace hearth::router {

int estimate_tokens(const std::string& text) {
  return static_cast<int>((text.size() + 3) / 4);
}

nlohmann::ordered_json Plan::to_json() const {
  nlohmann::ordered_json skipped_json = nlohmann::ordered_json::array();
  for (const auto& s : skipped)
    skipped_json.push_back({{"target", s.target}, {"reason", s.reason}});
  return {{"route", route},
          {"task", task},
          {"task_source", task_source},
          {"privacy_matches", privacy_matches},
          {"local_only", local_only},
          {"estimated_prompt_tokens", estimated_prompt_tokens},
          {"chain", chain},
          {"skipped", skipped_json}};
}

std::optional<Plan> make_plan(const RouterConfig& config, const PlanInput& input) {
  const RouteConfig* route = config.route(input.route);
  if (!route) return std::nullopt;
  Plan plan;
  plan.route = route->name;
  if (input.task_header && !input.task_header->empty()) {
    plan.task = *input.task_header;
    plan.task_source = "header";
  } else {
    plan.task = classify_task({.text = input.text, .has_tools = input.has_tools});
    plan.task_source = "classifier";
  }
  plan.privacy_matches = detect_private(input.text, config.privacy.detect);
  plan.local_only = input.privacy_header || !plan.privacy_matches.empty();
  plan.estimated_prompt_tokens = estimate_tokens(input.text);

  auto is_local = [&](const std::string& name) {
    const TargetConfig* t = config.target(name);
    return t && t->kind == TargetKind::kLocal;
  };
  std::vector<std::string> candidates;
  if (auto it = route->tasks.find(plan.task); it != route->tasks.end()) {
    // A task chain is an explicit order: kept as written.
    candidates = it->second;
  } else {
    candidates = route->targets;
    if (route->policy == Policy::kLocalFirst) {
      std::stable_partition(candidates.begin(), candidates.end(), is_local);
    } else if (route->policy == Policy::kCloudFirst) {
      std::stable_partition(candidates.begin(), candidates.end(),
                            [&](const std::string& n) { return !is_local(n); });
    }
  }
  if (plan.local_only) {
    // Privacy may not lose the route's local targets because a task chain named only remote
    // ones: the route's own local targets follow the chain's.
    for (const auto& n : route->targets) {
      if (std::find(candidates.begin(), candidates.end(), n) == candidates.end()) {
        candidates.push_back(n);
      }
    }
  }
  for (const auto& name : candidates) {
    const bool local = is_local(name);
    if (plan.local_only && !local) {
      plan.skipped.push_back({name, "privacy"});
    } else if (!plan.local_only && ((route->policy == Policy::kLocalOnly && !local) ||
                                    (route->policy == Policy::kCloudOnly && local))) {
      plan.skipped.push_back({name, "policy"});
    } else if (local && route->max_local_prompt_tokens > 0 &&
               plan.estimated_prompt_tokens > route->max_local_prompt_tokens) {
      plan.skipped.push_back({name, "prompt_too_long"});
    } else {
      plan.chain.push_back(name);
    }
  }
  return plan;
}

}  // namespace hearth::router
