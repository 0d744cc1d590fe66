// The hybrid router: a server::ModelRouter that answers requests naming one of its routes by
// trying the route's chain of targets (local models this hearth serves, remote
// OpenAI-compatible endpoints and their replicas) until one answers, following the policy,
// task chains, privacy rules, cooldowns and fallback rules of router.toml (docs/router.md).
//
// Ownership: created from a RouterConfig, held by the Service (shared_ptr); it owns one
// UpstreamClient (one libcurl thread for every remote request) and a health-check thread.
// Thread-safety: handle(), status_json() and render_metrics() may run on many request
// threads at once; attach() is called once before serving.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hearth/status.h"
#include "router/config.h"
#include "router/plan.h"
#include "server/model_router.h"

namespace hearth::router {

struct RouterState;  // router_internal.h

class HybridRouter : public server::ModelRouter {
 public:
  // Reads API keys from the environment (never logging them) and starts the upstream thread.
  static Result<std::shared_ptr<HybridRouter>> create(RouterConfig config);
  ~HybridRouter() override;

  void attach(server::ModelRegistry& registry, server::Metrics& metrics) override;
  std::vector<std::string> route_names() const override;
  bool handles(const std::string& model) const override;
  http::Response handle(server::RoutedApi api, const http::Request& request,
                        const nlohmann::ordered_json& body) override;
  void register_routes(http::Router& router) override;
  std::string render_metrics() const override;
  void shutdown() override;

  nlohmann::ordered_json status_json() const;
  const RouterConfig& config() const;

 private:
  HybridRouter() = default;
  std::shared_ptr<RouterState> state_;
};

// The text the router reads a request by (messages' contents, the prompt, or the inputs) and
// whether it carries tools: what the classifier and the privacy detectors look at.
PlanInput plan_input_from(server::RoutedApi api, const nlohmann::ordered_json& body);

}  // namespace hearth::router
