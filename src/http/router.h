// Maps (method, path) to a handler. Two kinds of route:
//   exact   "/v1/models"          matches that path only;
//   prefix  "/v1/models/*"        matches every path that starts with "/v1/models/"; the rest
//                                 is handed to the handler as Request::path_remainder.
// An exact route wins over a prefix route, a longer prefix over a shorter one (so "/*" can
// serve static files under everything the API does not claim). HEAD is answered by GET routes.
//
// Built once before the server starts, then only read: `match` is safe from many threads,
// `add` is not.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/http.h"

namespace hearth::http {

// How a route takes its request body.
struct RouteOptions {
  // The body goes to a temporary file as it arrives (Request::body_file), written by the
  // worker threads, instead of into memory: uploads.
  bool spool_body = false;
  // Largest accepted body; 0: the server's max_body_bytes.
  size_t max_body_bytes = 0;
};

struct RouteMatch {
  enum class Outcome { kFound, kNotFound, kMethodNotAllowed } outcome = Outcome::kNotFound;
  const Handler* handler = nullptr;       // kFound
  const RouteOptions* options = nullptr;  // kFound
  std::string remainder;                  // kFound, prefix routes
  std::vector<std::string> allowed;       // kMethodNotAllowed: the methods the path has
};

class Router {
 public:
  void add(std::string method, std::string pattern, Handler handler, RouteOptions options = {});
  void get(std::string pattern, Handler handler) {
    add("GET", std::move(pattern), std::move(handler));
  }
  void post(std::string pattern, Handler handler) {
    add("POST", std::move(pattern), std::move(handler));
  }

  RouteMatch match(std::string_view method, std::string_view path) const;
  // The largest body any route accepts, given the server's default.
  size_t largest_body(size_t default_max) const;

 private:
  struct Route {
    std::string method;
    std::string path;  // the exact path, or the prefix including its trailing '/'
    bool prefix = false;
    Handler handler;
    RouteOptions options;
  };
  std::vector<Route> routes_;
};

}  // namespace hearth::http
