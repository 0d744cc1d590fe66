// The HTTP server: listening socket, worker threads, API keys, CORS, body limit, and routing
// into a Router. The only place in hearth that sees the transport library (cpp-httplib, inside
// server.cpp); issue 21 swaps that for an event-driven transport behind this same class.
//
// Errors the transport itself produces (no route, wrong method, missing key, body too large,
// malformed request, a handler that threw) are rendered by `ServerOptions::render_error`, so
// the application decides their shape (OpenAI-style JSON for hearth).
//
// Thread-safety: handlers run on the worker threads, several at once; `stop` may be called
// from any thread (a signal handler thread) while `listen` blocks in another.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hearth/status.h"
#include "http/router.h"

namespace hearth::http {

// A request the transport answers without a handler.
struct TransportError {
  int status = 500;
  std::string code;  // unauthorized, not_found, method_not_allowed, payload_too_large, ...
  std::string message;
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                        // 0: any free port (see bound_port)
  std::vector<std::string> api_keys;      // empty: no key needed
  std::vector<std::string> cors_origins;  // "*" allows any origin
  size_t max_body_bytes = 16u << 20;
  int worker_threads = 32;  // each streaming client holds one while it streams
  int read_timeout_seconds = 30;
  int write_timeout_seconds = 30;  // a client that stops reading is dropped after this
  // Reachable without an API key: exact paths, and every path under a prefix ("/app/").
  std::vector<std::string> public_paths;
  std::vector<std::string> public_prefixes;
  std::function<Response(const TransportError&)> render_error;  // empty: {"error":{...}}
};

class Server {
 public:
  Server(ServerOptions options, Router router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  const ServerOptions& options() const { return options_; }

  // Binds and serves until stop(); an Error (unavailable) when the address cannot be bound.
  Status listen();
  void stop();
  bool is_running() const;
  int bound_port() const { return bound_port_; }

  // Whether `path` needs no API key (exposed for tests).
  bool is_public(std::string_view path) const;

 private:
  struct Impl;
  ServerOptions options_;
  Router router_;
  std::unique_ptr<Impl> impl_;
  std::atomic<int> bound_port_{0};
};

}  // namespace hearth::http
