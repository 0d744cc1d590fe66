#include "http/router.h"

#include <algorithm>

namespace hearth::http {

void Router::add(std::string method, std::string pattern, Handler handler, RouteOptions options) {
  Route route{std::move(method), std::move(pattern), false, std::move(handler), options};
  if (route.path.size() >= 2 && route.path.ends_with("/*")) {
    route.path.pop_back();  // keep the '/': "/openai/load/*" matches "/openai/load/x"
    route.prefix = true;
  }
  routes_.push_back(std::move(route));
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  const std::string_view wanted = method == "HEAD" ? std::string_view("GET") : method;
  // The best route for the path regardless of method decides between 404 and 405; among
  // routes of the right method, exact beats prefix and longer prefixes beat shorter ones.
  const Route* best = nullptr;
  size_t best_rank = 0;
  std::vector<std::string> allowed;
  size_t allowed_rank = 0;
  for (const Route& route : routes_) {
    size_t rank = 0;
    if (!route.prefix) {
      if (path != route.path) continue;
      rank = SIZE_MAX;
    } else {
      if (!path.starts_with(route.path)) continue;
      rank = route.path.size();
    }
    if (route.method == wanted) {
      if (!best || rank > best_rank) {
        best = &route;
        best_rank = rank;
      }
    } else if (rank > allowed_rank) {
      allowed_rank = rank;
      allowed.assign(1, route.method);
    } else if (rank == allowed_rank &&
               std::find(allowed.begin(), allowed.end(), route.method) == allowed.end()) {
      allowed.push_back(route.method);
    }
  }
  RouteMatch out;
  // A more specific route of another method means the client named the right resource with
  // the wrong method (405), not that a catch-all prefix should answer.
  if (best && best_rank >= allowed_rank) {
    out.outcome = RouteMatch::Outcome::kFound;
    out.handler = &best->handler;
    out.options = &best->options;
    if (best->prefix) out.remainder = std::string(path.substr(best->path.size()));
    return out;
  }
  if (!allowed.empty()) {
    out.outcome = RouteMatch::Outcome::kMethodNotAllowed;
    out.allowed = std::move(allowed);
  }
  return out;
}

size_t Router::largest_body(size_t default_max) const {
  size_t largest = default_max;
  for (const Route& route : routes_) largest = std::max(largest, route.options.max_body_bytes);
  return largest;
}

}  // namespace hearth::http
