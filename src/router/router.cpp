#include "router/router.h"

#include <cstdio>
#include <cstdlib>

#include "router/router_internal.h"

namespace hearth::router {
namespace {

// The text of a message's content: a string, or the text parts of an array.
void append_content(const json& content, std::string& out) {
  if (content.is_string()) {
    out += content.get<std::string>();
    out += '\n';
  } else if (content.is_array()) {
    for (const auto& part : content) {
      if (part.is_object() && part.contains("text") && part["text"].is_string()) {
        out += part["text"].get<std::string>();
        out += '\n';
      }
    }
  }
}

bool falls_back(const FallbackConfig& f, Failure failure) {
  switch (failure) {
    case Failure::kConnect: return f.on_connect;
    case Failure::kTimeout: return f.on_timeout;
    case Failure::kHttp429: return f.on_http_429;
    case Failure::kHttp5xx:
    case Failure::kBadReply: return f.on_http_5xx;
    case Failure::kContextOverflow: return f.on_context_overflow;
    case Failure::kOverloaded: return f.on_overloaded;
    case Failure::kUnauthorized:  // the target is cooled down; the chain moves on
    case Failure::kCoolingDown: return true;
    case Failure::kNone:
    case Failure::kClientError:
    case Failure::kCancelled: return false;
  }
  return false;
}

void health_loop(RouterState* state) {
  // Replicas only: a single endpoint learns its health from the requests themselves, and
  // checking a paid API every few seconds would cost its owner requests.
  const int period = state->config.fallback.health_check_s;
  if (period <= 0) return;
  auto last = Clock::now() - std::chrono::seconds(period);
  while (!state->stopping) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (Clock::now() - last < std::chrono::seconds(period)) continue;
    last = Clock::now();
    for (auto& target : state->targets) {
      if (target->local() || target->replicas.size() < 2) continue;
      for (auto& replica : target->replicas) {
        UpstreamRequest req;
        req.method = "GET";
        req.url = replica.base_url + "/models";
        if (!target->api_key.empty())
          req.headers.push_back("Authorization: Bearer " + target->api_key);
        req.connect_timeout_ms = 2000;
        req.total_timeout_ms = 5000;
        auto call = state->upstream->start(std::move(req));
        int status = 0;
        std::string error;
        // Short waits so that shutdown is not held up by a replica that does not answer;
        // total_timeout_ms above bounds the check itself.
        for (int waited_ms = 0;; waited_ms += 100) {
          auto e = call->next(std::chrono::milliseconds(100));
          if (!e) {
            if (!state->stopping && waited_ms < 6000) continue;
            error = "no answer";
            break;
          }
          if (e->kind == UpstreamEvent::Kind::kHeaders) status = e->status;
          if (e->kind == UpstreamEvent::Kind::kDone) {
            if (!e->error.empty()) error = e->error;
            if (e->status) status = e->status;
            break;
          }
        }
        const bool healthy = error.empty() && status >= 200 && status < 500;
        replica.health->check_result(healthy,
                                     error.empty() ? "HTTP " + std::to_string(status) : error);
      }
    }
  }
}

}  // namespace

PlanInput plan_input_from(server::RoutedApi api, const nlohmann::ordered_json& body) {
  PlanInput in;
  if (body.contains("model") && body["model"].is_string())
    in.route = body["model"].get<std::string>();
  if (api == server::RoutedApi::kChat) {
    if (body.contains("messages") && body["messages"].is_array()) {
      for (const auto& m : body["messages"]) {
        if (m.is_object() && m.contains("content")) append_content(m["content"], in.text);
      }
    }
    in.has_tools = body.contains("tools") && body["tools"].is_array() && !body["tools"].empty();
  } else {
    const char* key = api == server::RoutedApi::kCompletion ? "prompt" : "input";
    if (body.contains(key)) {
      const json& v = body[key];
      if (v.is_string()) {
        in.text = v.get<std::string>();
      } else if (v.is_array()) {
        for (const auto& s : v) {
          if (s.is_string()) in.text += s.get<std::string>() + "\n";
        }
      }
    }
  }
  return in;
}

Result<std::shared_ptr<HybridRouter>> HybridRouter::create(RouterConfig config) {
  std::shared_ptr<HybridRouter> router(new HybridRouter());
  auto state = std::make_shared<RouterState>();
  state->config = std::move(config);
  for (const auto& tc : state->config.targets) {
    auto target = std::make_unique<Target>();
    target->config = tc;
    if (!tc.api_key_env.empty()) {
      const char* key = std::getenv(tc.api_key_env.c_str());
      if (key && *key) {
        target->api_key = key;
      } else {
        std::fprintf(stderr, "hearth serve: router target %s: $%s is not set; sending no key\n",
                     tc.name.c_str(), tc.api_key_env.c_str());
      }
    }
    if (target->local()) {
      target->replicas.push_back(
          {"", std::make_unique<EndpointHealth>(tc.name, state->config.fallback.cooldown_s)});
    } else {
      for (size_t i = 0; i < tc.base_urls.size(); ++i) {
        // A replica's name is its target's, with its index when there are several.
        std::string name = tc.base_urls.size() > 1 ? tc.name + "#" + std::to_string(i) : tc.name;
        target->replicas.push_back({tc.base_urls[i], std::make_unique<EndpointHealth>(
                                                         name, state->config.fallback.cooldown_s)});
      }
    }
    state->targets.push_back(std::move(target));
  }
  auto upstream = UpstreamClient::create();
  if (!upstream) return std::unexpected(upstream.error());
  state->upstream = std::move(*upstream);
  state->health_thread = std::thread(health_loop, state.get());
  router->state_ = std::move(state);
  return router;
}

HybridRouter::~HybridRouter() {
  shutdown();
}

void HybridRouter::shutdown() {
  if (!state_ || state_->stopping.exchange(true)) return;
  if (state_->health_thread.joinable()) state_->health_thread.join();
  state_->upstream->shutdown();
}

void HybridRouter::attach(server::ModelRegistry& registry, server::Metrics& metrics) {
  state_->registry = &registry;
  state_->metrics = &metrics;
}

const RouterConfig& HybridRouter::config() const {
  return state_->config;
}

std::vector<std::string> HybridRouter::route_names() const {
  std::vector<std::string> names;
  for (const auto& r : state_->config.routes) names.push_back(r.name);
  return names;
}

bool HybridRouter::handles(const std::string& model) const {
  return state_->config.route(model) != nullptr;
}

void add_route_headers(http::Response& response, const RoutedRequest& request,
                       const std::string& target) {
  response.headers.set("X-Hearth-Route", request.plan.route);
  if (!target.empty()) response.headers.set("X-Hearth-Target", target);
  std::string attempts;
  for (const auto& a : request.attempts) attempts += (attempts.empty() ? "" : ",") + a;
  if (!attempts.empty()) response.headers.set("X-Hearth-Attempts", attempts);
  if (!request.fallback_reason.empty()) {
    response.headers.set("X-Hearth-Fallback-Reason", request.fallback_reason);
  }
  response.headers.set("X-Hearth-Task", request.plan.task);
}

namespace {

http::Response route_request(RouterState& state, server::RoutedApi api,
                             const http::Request& http_request,
                             const nlohmann::ordered_json& body) {
  server::Metrics* metrics = state.metrics;
  if (metrics) {
    ++metrics->requests_total;
    ++metrics->requests_in_flight;
  }
  ++state.routed_total;
  RoutedRequest request;
  request.in_flight = std::shared_ptr<void>(nullptr, [metrics](void*) {
    if (metrics) --metrics->requests_in_flight;
  });
  request.api = api;
  request.body = body;
  request.http = &http_request;
  // Types are checked here only as far as routing needs; the target validates the rest.
  request.stream = api != server::RoutedApi::kEmbeddings && body.contains("stream") &&
                   body["stream"].is_boolean() && body["stream"].get<bool>();
  if (body.contains("stream_options") && body["stream_options"].is_object()) {
    const json& options = body["stream_options"];
    request.include_usage = options.contains("include_usage") &&
                            options["include_usage"].is_boolean() &&
                            options["include_usage"].get<bool>();
  }
  PlanInput input = plan_input_from(api, body);
  if (auto task = http_request.header("X-Hearth-Task")) input.task_header = std::string(*task);
  if (auto privacy = http_request.header("X-Hearth-Privacy")) {
    input.privacy_header = http::equals_ignore_case(*privacy, "local-only");
  }
  request.plan = *make_plan(state.config, input);  // handles() checked the route
  if (request.plan.local_only) ++state.local_only_total;

  AttemptResult last;
  last.error = {.status = 503,
                .message = "No target of route " + request.plan.route + " can serve this request.",
                .type = "server_error",
                .code = "no_target_available"};
  for (const auto& name : request.plan.chain) {
    Target* target = state.target(name);
    if (!target) continue;
    AttemptResult result = target->local() ? attempt_local(state, *target, request)
                                           : attempt_remote(state, *target, request);
    if (result.failure == Failure::kNone) {
      if (request.attempts.size() > 1 && metrics) ++state.fallbacks_total;
      add_route_headers(result.response, request, name);
      return std::move(result.response);
    }
    if (result.failure == Failure::kCancelled) {
      add_route_headers(result.response, request, "");
      return server::error_response(result.error);
    }
    if (!falls_back(state.config.fallback, result.failure)) {
      last = std::move(result);
      break;
    }
    if (request.fallback_reason.empty()) request.fallback_reason = result.label;
    for (auto& r : target->replicas) r.health->count_fallback();
    last = std::move(result);
  }
  ++state.failed_total;
  if (metrics) ++metrics->requests_failed;
  server::ApiError error = last.error;
  if (request.plan.local_only) {
    // Said precisely: nothing was sent to a remote target, and no local one could answer.
    error = {.status = 503,
             .message = "This request must stay on this machine (" +
                        std::string(request.plan.privacy_matches.empty()
                                        ? "X-Hearth-Privacy: local-only"
                                        : "it contains " + request.plan.privacy_matches.front()) +
                        ") and no local target of route " + request.plan.route +
                        " can serve it; nothing was sent elsewhere.",
             .type = "server_error",
             .code = "local_unavailable"};
  }
  http::Response response = server::error_response(error);
  add_route_headers(response, request, "");
  return response;
}

}  // namespace

http::Response HybridRouter::handle(server::RoutedApi api, const http::Request& http_request,
                                    const nlohmann::ordered_json& body) {
  // No exception leaves the module: a bug or an allocation failure becomes a 500.
  try {
    return route_request(*state_, api, http_request, body);
  } catch (const std::exception& e) {
    return server::error_response(server::internal_error(std::string("router: ") + e.what()));
  }
}

json HybridRouter::status_json() const {
  json targets = json::array();
  for (const auto& t : state_->targets) {
    json replicas = json::array();
    for (const auto& r : t->replicas) {
      json j = r.health->status_json();
      if (!r.base_url.empty()) j["base_url"] = r.base_url;
      replicas.push_back(std::move(j));
    }
    json tj = {{"name", t->config.name},
               {"kind", t->local() ? "local" : "openai"},
               {"model", t->config.model}};
    if (!t->local()) {
      // Clients that show a request's cost (the web app's Compare page) read it here.
      tj["price_per_mtok"] = {{"input", t->config.price_input_per_mtok},
                              {"output", t->config.price_output_per_mtok}};
    }
    if (t->replicas.size() == 1) {
      for (auto& [k, v] : replicas[0].items()) {
        if (k != "name") tj[k] = v;
      }
    } else {
      tj["replicas"] = std::move(replicas);
    }
    targets.push_back(std::move(tj));
  }
  json routes = json::array();
  for (const auto& r : state_->config.routes) {
    routes.push_back({{"name", r.name}, {"policy", policy_name(r.policy)}, {"targets", r.targets}});
  }
  return {{"routes", routes},
          {"targets", targets},
          {"requests", state_->routed_total.load()},
          {"fallbacks", state_->fallbacks_total.load()},
          {"local_only", state_->local_only_total.load()},
          {"failed", state_->failed_total.load()},
          {"upstream_active", state_->upstream ? state_->upstream->active() : 0}};
}

void HybridRouter::register_routes(http::Router& router) {
  router.get("/v1/router/status",
             [this](http::Request&) { return server::json_response(200, status_json()); });
}

std::string HybridRouter::render_metrics() const {
  std::string out;
  out += "# HELP hearth_router_requests_total Requests that named a router route.\n";
  out += "# TYPE hearth_router_requests_total counter\n";
  out += "hearth_router_requests_total " + std::to_string(state_->routed_total.load()) + "\n";
  out += "hearth_router_fallbacks_total " + std::to_string(state_->fallbacks_total.load()) + "\n";
  out += "hearth_router_local_only_total " + std::to_string(state_->local_only_total.load()) + "\n";
  out += "hearth_router_failed_total " + std::to_string(state_->failed_total.load()) + "\n";
  for (const auto& t : state_->targets) {
    for (const auto& r : t->replicas) r.health->render_metrics(out);
  }
  return out;
}

}  // namespace hearth::router
