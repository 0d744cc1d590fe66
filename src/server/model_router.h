// The seam through which a router (src/router, a layer above this one) answers requests whose
// `model` names one of its routes instead of a model. The server only knows this interface:
// the OpenAI routes hand such a request over whole (the router needs its headers and answers
// with its own headers and streams), /v1/models lists the route names, and /metrics appends
// the router's counters.
//
// Ownership: the Service holds the router (shared_ptr) for its lifetime and calls attach()
// once before serving and shutdown() once when stopping.
// Thread-safety: every method except attach() may be called from many request threads at once.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "http/http.h"
#include "http/router.h"

namespace hearth::server {

class ModelRegistry;
struct Metrics;

enum class RoutedApi { kChat, kCompletion, kEmbeddings };

class ModelRouter {
 public:
  virtual ~ModelRouter() = default;

  // Gives the router the registry its local targets live in, and the server's metrics.
  // Both outlive the router's use of them (until shutdown()).
  virtual void attach(ModelRegistry& registry, Metrics& metrics) = 0;
  // The model ids the router answers for.
  virtual std::vector<std::string> route_names() const = 0;
  virtual bool handles(const std::string& model) const = 0;
  // Answers one request whose parsed body names a route.
  virtual http::Response handle(RoutedApi api, const http::Request& request,
                                const nlohmann::ordered_json& body) = 0;
  // Adds the router's own routes (GET /v1/router/status).
  virtual void register_routes(http::Router& router) = 0;
  // Prometheus text appended to /metrics.
  virtual std::string render_metrics() const = 0;
  // Cancels upstream requests in flight and stops the router's threads.
  virtual void shutdown() = 0;
};

}  // namespace hearth::server
