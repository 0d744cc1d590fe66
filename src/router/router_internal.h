// Internals shared by router.cpp (planning, the fallback loop, status), local.cpp and
// remote.cpp (one try against one target). Not a public header.
//
// Ownership: HybridRouter owns the RouterState; a committed stream holds a Target* and an
// EndpointHealth&, which live as long as the state (the Service stops serving first).
// Thread-safety: RouterState and Target are read-only after create() except their atomics
// and EndpointHealth (thread-safe); a RoutedRequest belongs to its request's thread.
#pragma once

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "router/config.h"
#include "router/health.h"
#include "router/plan.h"
#include "router/upstream.h"
#include "server/api_error.h"
#include "server/metrics.h"
#include "server/model_registry.h"
#include "server/model_router.h"

namespace hearth::router {

using json = nlohmann::ordered_json;

struct Replica {
  std::string base_url;  // empty for a local target
  std::unique_ptr<EndpointHealth> health;
};

struct Target {
  TargetConfig config;
  std::string api_key;            // from config.api_key_env; never logged
  std::vector<Replica> replicas;  // a local target has one, without a URL
  // Local targets: a moving average of request durations (ms), for the overload estimate.
  std::atomic<double> avg_duration_ms{0};

  bool local() const { return config.kind == TargetKind::kLocal; }
  double cost(int64_t prompt_tokens, int64_t completion_tokens) const {
    return (static_cast<double>(prompt_tokens) * config.price_input_per_mtok +
            static_cast<double>(completion_tokens) * config.price_output_per_mtok) /
           1e6;
  }
};

struct RouterState {
  RouterConfig config;
  std::vector<std::unique_ptr<Target>> targets;
  std::unique_ptr<UpstreamClient> upstream;
  server::ModelRegistry* registry = nullptr;
  server::Metrics* metrics = nullptr;
  std::atomic<uint64_t> routed_total{0}, fallbacks_total{0}, local_only_total{0}, failed_total{0};
  std::atomic<bool> stopping{false};
  std::thread health_thread;

  Target* target(const std::string& name) const {
    for (const auto& t : targets) {
      if (t->config.name == name) return t.get();
    }
    return nullptr;
  }
};

// What one routed request carries through its attempts.
struct RoutedRequest {
  server::RoutedApi api = server::RoutedApi::kChat;
  bool stream = false;
  bool include_usage = false;
  json body;  // the client's body; `model` is replaced per target
  const http::Request* http = nullptr;
  Plan plan;
  std::vector<std::string> attempts;  // "local=context_overflow", "cloud=200"
  std::string fallback_reason;        // the first failure that moved the request on
  std::shared_ptr<void> in_flight;    // the server's in-flight count, until the reply ends
};

// Why an attempt did not answer. Each maps to a fallback rule of [fallback] on.
enum class Failure {
  kNone,
  kConnect,
  kTimeout,
  kHttp429,
  kHttp5xx,
  kContextOverflow,
  kOverloaded,
  kUnauthorized,  // 401/403: cooled down, and the chain moves on without retrying it
  kBadReply,      // malformed JSON or SSE before the first byte: counted as http_5xx
  kClientError,   // the request itself is wrong (400): no other target would do better
  kCancelled,     // the client left
  kCoolingDown,   // skipped: cooling down, or its one probe is already running
};

struct AttemptResult {
  Failure failure = Failure::kNone;
  std::string label;  // for X-Hearth-Attempts: "200", "http_500", "timeout", ...
  server::ApiError error;
  int retry_after_s = 0;
  http::Response response;  // kNone: the reply (its headers are added by the caller)
};

// Tries `target` (every replica, least outstanding first, for a remote one).
AttemptResult attempt_local(RouterState& state, Target& target, RoutedRequest& request);
AttemptResult attempt_remote(RouterState& state, Target& target, RoutedRequest& request);

// The headers every routed reply carries.
void add_route_headers(http::Response& response, const RoutedRequest& request,
                       const std::string& target);

}  // namespace hearth::router
