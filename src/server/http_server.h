// The HTTP front of `hearth serve`: listening socket, API keys, CORS, body limits, and the
// guarantee that every error leaves as OpenAI-shaped JSON.
//
// Routes are added by the API modules (openai_routes.cpp, ...) through `routes()`. Handlers
// run on the server's worker threads, several at once; anything they share must be
// thread-safe. `listen` blocks until `stop` is called from another thread or a signal.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hearth/status.h"
#include "server/api_error.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

namespace hearth::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::vector<std::string> api_keys;      // empty: no key needed
  std::vector<std::string> cors_origins;  // "*" allows any origin
  size_t max_body_bytes = 16u << 20;
  int worker_threads = 32;  // each streaming client holds one while it streams
  int read_timeout_seconds = 30;
  int write_timeout_seconds = 30;  // a client that stops reading is dropped after this
};

// Sets status, JSON body and Retry-After for an error.
void send_error(httplib::Response& res, const ApiError& error);
void send_json(httplib::Response& res, int status, const std::string& body);

class HttpServer {
 public:
  explicit HttpServer(HttpOptions options);
  ~HttpServer();

  httplib::Server& routes() { return *server_; }
  const HttpOptions& options() const { return options_; }

  // Paths that need no API key (health checks, metrics scrapers).
  void add_public_path(std::string path) { public_paths_.push_back(std::move(path)); }

  // Binds and serves until stop(); an Error when the address cannot be bound.
  Status listen();
  void stop();
  bool is_running() const;
  int bound_port() const { return bound_port_; }

 private:
  bool authorized(const httplib::Request& req) const;
  void apply_cors(const httplib::Request& req, httplib::Response& res) const;

  HttpOptions options_;
  std::unique_ptr<httplib::Server> server_;
  std::vector<std::string> public_paths_;
  std::atomic<int> bound_port_{0};
};

}  // namespace hearth::server
