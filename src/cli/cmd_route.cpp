// `hearth route explain`: prints the router's decision for a prompt (route, task, privacy
// matches, chain, skipped targets and why) as JSON, without running a model or sending
// anything: the same make_plan() a served request goes through.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>

#include "catalog/cache.h"
#include "cli/commands.h"
#include "router/config.h"
#include "router/plan.h"

namespace hearth::cli {
namespace {

struct ExplainArgs {
  std::string router_file;
  std::string route;
  std::string task;
  bool privacy_local_only = false;
  std::string prompt;
};

int run_explain(const ExplainArgs& args) {
  std::filesystem::path file = args.router_file;
  if (file.empty()) file = catalog::hearth_home() / "router.toml";
  auto config = router::load_router_config(file);
  if (!config) {
    std::fprintf(stderr, "hearth route explain: %s\n", config.error().message.c_str());
    return 1;
  }
  router::PlanInput input;
  input.route = args.route.empty() ? config->routes.front().name : args.route;
  input.text = args.prompt;
  if (!args.task.empty()) input.task_header = args.task;
  input.privacy_header = args.privacy_local_only;
  auto plan = router::make_plan(*config, input);
  if (!plan) {
    std::fprintf(stderr, "hearth route explain: %s has no route %s\n", file.c_str(),
                 input.route.c_str());
    return 1;
  }
  std::printf("%s\n", plan->to_json().dump(2).c_str());
  return 0;
}

}  // namespace

void register_route(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("route", "Inspect the hybrid router (docs/router.md)");
  cmd->require_subcommand(1);
  auto* explain = cmd->add_subcommand("explain", "Print where a prompt would be routed, as JSON");
  auto args = std::make_shared<ExplainArgs>();
  explain->add_option("--router", args->router_file,
                      "Router config (default: $HEARTH_HOME/router.toml)");
  explain->add_option("--route", args->route, "Route name (default: the first route)");
  explain->add_option("--task", args->task, "Task, as the X-Hearth-Task header would give it");
  explain->add_flag("--local-only", args->privacy_local_only,
                    "As if the request had X-Hearth-Privacy: local-only");
  explain->add_option("prompt", args->prompt, "The prompt")->required();
  explain->callback([args, &exit_code] { exit_code = run_explain(*args); });
}

}  // namespace hearth::cli
