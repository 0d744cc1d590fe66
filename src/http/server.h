// The HTTP server: an event loop (Asio) that holds the connections, a pool of worker threads
// that runs the handlers, API keys, CORS, body limits and routing into a Router. The only place
// in hearth that sees sockets; docs/architecture.md ("The HTTP front") explains the design.
//
// Connections cost memory, not threads: one loop thread reads, parses and writes for all of
// them, and a handler takes a worker only while it runs. Every phase has a deadline (below);
// beyond `max_connections` a new connection is answered 503 and closed.
//
// Errors the transport itself produces (no route, wrong method, missing key, body too large,
// malformed request, a handler that threw) are rendered by `ServerOptions::render_error`, so
// the application decides their shape (OpenAI-style JSON for hearth).
//
// Thread-safety: handlers run on the worker threads, several at once; `stop` may be called
// from any thread (a signal handler thread) while `listen` runs the loop in another.
#pragma once

#include <atomic>
#include <chrono>
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
  int retry_after_seconds = 0;  // > 0: the transport adds Retry-After
};

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8000;                        // 0: any free port (see bound_port)
  std::vector<std::string> api_keys;      // empty: no key needed
  std::vector<std::string> cors_origins;  // "*" allows any origin
  // Also allow http://localhost:*, http://127.0.0.1:* and http://[::1]:* (any port, or none),
  // as Ollama does: a page served from this machine may call a server on this machine.
  bool allow_loopback_origins = false;
  // DNS rebinding: a page on evil.example whose name is re-pointed at 127.0.0.1 reaches this
  // server with `Host: evil.example`. When set (hearth sets it when bound to a loopback
  // address), a request whose Host is not a loopback name (localhost, *.localhost, 127.x.x.x,
  // [::1]) nor listed in `allowed_hosts` ("*": any) is answered 403. No Host header passes
  // (HTTP/1.0 clients send none; a browser always does).
  bool require_loopback_host = false;
  std::vector<std::string> allowed_hosts;
  size_t max_body_bytes = 16u << 20;
  // Handler threads: they grow with handlers that wait (a non-streamed completion waits for
  // its generation) up to this many; a streamed answer holds none while it waits for tokens.
  int worker_threads = 256;
  // Open connections; more are answered 503 with Retry-After. Also kept under the process's
  // open-file limit (raised to its hard limit at listen).
  int max_connections = 16384;
  // Deadlines (docs/api.md, "Connections"): from a request's first byte to the end of its
  // headers; between two reads of a body; for a whole body; without any progress writing an
  // answer (a client that stops reading is dropped and its generation cancelled); and for a
  // connection waiting for its next request.
  int header_timeout_seconds = 10;
  int read_timeout_seconds = 30;
  int body_timeout_seconds = 300;
  int write_timeout_seconds = 30;
  int keep_alive_timeout_seconds = 120;
  // Where routes with RouteOptions::spool_body write request bodies (empty: the system's
  // temporary directory). Each file is removed once its request is answered.
  std::string spool_dir;
  // TLS (OpenSSL): both set serves https. PEM files: the certificate chain and its key.
  std::string tls_cert_file;
  std::string tls_key_file;
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

  // Binds and runs the event loop in the calling thread until stop(); an Error (unavailable)
  // when the address cannot be bound, (invalid_input) when the TLS files cannot be used.
  Status listen();
  // Stops accepting, lets answers in progress finish (up to `drain_timeout`), closes the
  // rest; listen() then returns. Does not wait.
  void stop(std::chrono::milliseconds drain_timeout = std::chrono::seconds(10));
  bool is_running() const;
  // Open connections (for /metrics and tests).
  int connections() const;
  int bound_port() const { return bound_port_; }

  // Whether `origin` is http(s)://localhost, 127.0.0.1 or [::1], with or without a port.
  static bool is_loopback_origin(std::string_view origin);
  // Whether a Host header value (name or address, with or without a port) names this machine's
  // loopback interface.
  static bool is_loopback_host(std::string_view host);
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
