// cpp-httplib behind hearth::http::Server. Everything that knows httplib lives in this file.
#include "http/server.h"

#include <dirent.h>
#include <httplib.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

namespace hearth::http {
namespace {

// httplib 0.11 does not tell a handler its socket, nor whether the client hung up. The
// connection's (local, remote) address pair names exactly one open socket in this process, so
// the socket is found once, the first time a handler asks, by comparing the addresses of the
// process's sockets.
std::string numeric_host(const sockaddr_storage& address, socklen_t length, int& port) {
  char host[NI_MAXHOST] = {};
  char service[NI_MAXSERV] = {};
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, host, sizeof host, service,
                  sizeof service, NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return {};
  }
  port = std::atoi(service);
  return host;
}

int find_connection_socket(const httplib::Request& req) {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  int found = -1;
  while (dirent* entry = readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0') continue;
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    if (getpeername(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0) {
      continue;
    }
    int peer_port = -1;
    if (numeric_host(peer, peer_length, peer_port) != req.remote_addr ||
        peer_port != req.remote_port) {
      continue;
    }
    if (req.local_port >= 0) {
      sockaddr_storage local{};
      socklen_t local_length = sizeof local;
      if (getsockname(static_cast<int>(fd), reinterpret_cast<sockaddr*>(&local), &local_length) !=
          0) {
        continue;
      }
      int local_port = -1;
      numeric_host(local, local_length, local_port);
      if (local_port != req.local_port) continue;
    }
    found = static_cast<int>(fd);
    break;
  }
  closedir(dir);
  return found;
}

// True when the peer closed (or reset) the connection. A client that sent its request and
// is waiting for the answer sends nothing more, so any hang-up means it is gone.
bool socket_hung_up(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) return true;
  if (p.revents & POLLIN) {
    char byte;
    // Readable with nothing to read is an orderly close; bytes are a pipelined request.
    return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }
  return false;
}

// The hang-up check of one connection; valid while its handler (or stream) runs, which is
// when the socket is held open for it. Looked up lazily: most handlers never ask.
class HangUpCheck {
 public:
  explicit HangUpCheck(const httplib::Request& req) : req_(&req) {}
  bool operator()() {
    if (!fd_) fd_ = find_connection_socket(*req_);
    return *fd_ >= 0 && socket_hung_up(*fd_);
  }

 private:
  const httplib::Request* req_;
  std::optional<int> fd_;
};

class SinkWriter : public StreamWriter {
 public:
  SinkWriter(httplib::DataSink& sink, const std::shared_ptr<HangUpCheck>& hang_up)
      : sink_(sink), hang_up_(hang_up) {}
  bool write(std::string_view chunk) override {
    if (gone_) return false;
    if (chunk.empty()) return true;
    if (!sink_.write(chunk.data(), chunk.size())) gone_ = true;
    return !gone_;
  }
  bool client_gone() const override {
    if (!gone_ && (!sink_.is_writable() || (*hang_up_)())) gone_ = true;
    return gone_;
  }
  bool failed() const { return gone_; }

 private:
  httplib::DataSink& sink_;
  std::shared_ptr<HangUpCheck> hang_up_;
  mutable bool gone_ = false;
};

Response default_error(const TransportError& error) {
  std::string body = R"({"error":{"message":")";
  for (char c : error.message) {
    if (c == '"' || c == '\\') body += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) body += c;
  }
  body += R"(","code":")" + error.code + R"("}})";
  return Response::json(error.status, std::move(body));
}

bool constant_time_key_match(const std::vector<std::string>& keys, std::string_view key) {
  // Compare against every key without stopping early, so timing says nothing about which
  // prefix matched.
  bool match = false;
  for (const auto& candidate : keys) {
    unsigned diff = candidate.size() ^ key.size();
    for (size_t i = 0; i < candidate.size(); ++i) {
      diff |= static_cast<unsigned char>(candidate[i]) ^
              static_cast<unsigned char>(i < key.size() ? key[i] : 0);
    }
    match |= diff == 0;
  }
  return match;
}

}  // namespace

struct Server::Impl {
  httplib::Server http;
};

Server::Server(ServerOptions options, Router router)
    : options_(std::move(options)), router_(std::move(router)), impl_(std::make_unique<Impl>()) {
  if (!options_.render_error) options_.render_error = default_error;
  auto& http = impl_->http;
  const int workers = std::max(4, options_.worker_threads);
  http.new_task_queue = [workers] { return new httplib::ThreadPool(static_cast<size_t>(workers)); };
  http.set_read_timeout(options_.read_timeout_seconds, 0);
  http.set_write_timeout(options_.write_timeout_seconds, 0);
  http.set_payload_max_length(options_.max_body_bytes);
  http.set_keep_alive_max_count(1000);

  auto apply = [](const Response& from, httplib::Response& to) {
    to.status = from.status;
    for (const auto& [name, value] : from.headers.fields()) to.set_header(name, value);
    if (!from.stream) {
      to.set_content(from.body, from.content_type);
      return;
    }
    to.set_content(std::string(), from.content_type);  // no body yet; chunks follow
  };
  auto send_error = [this, apply](httplib::Response& res, TransportError error) {
    apply(options_.render_error(error), res);
  };

  auto apply_cors = [this](const httplib::Request& req, httplib::Response& res) {
    if (options_.cors_origins.empty()) return;
    const std::string origin = req.get_header_value("Origin");
    if (origin.empty()) return;
    const auto& origins = options_.cors_origins;
    const bool any = std::find(origins.begin(), origins.end(), "*") != origins.end();
    const bool listed = std::find(origins.begin(), origins.end(), origin) != origins.end();
    if (!any && !listed) return;
    res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
    if (!any) res.set_header("Vary", "Origin");
    res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    res.set_header(
        "Access-Control-Allow-Headers",
        "Authorization, Content-Type, OpenAI-Organization, OpenAI-Project, X-Stainless-*, *");
    res.set_header("Access-Control-Max-Age", "600");
  };

  http.set_pre_routing_handler(
      [this, apply_cors, send_error](const httplib::Request& req, httplib::Response& res) {
        apply_cors(req, res);
        if (req.method == "OPTIONS") {  // CORS preflight: answered here, never needs a key
          res.status = 204;
          return httplib::Server::HandlerResponse::Handled;
        }
        if (!options_.api_keys.empty() && !is_public(req.path)) {
          const std::string header = req.get_header_value("Authorization");
          constexpr std::string_view kBearer = "Bearer ";
          const bool bearer = header.size() > kBearer.size() && header.starts_with(kBearer);
          if (!bearer || !constant_time_key_match(
                             options_.api_keys, std::string_view(header).substr(kBearer.size()))) {
            send_error(res, {401, "unauthorized", "Incorrect or missing API key."});
            return httplib::Server::HandlerResponse::Handled;
          }
        }
        // This runs before the body is read: refuse an oversized body now instead of reading
        // (and discarding) all of it first.
        if (req.has_header("Content-Length")) {
          const std::string length = req.get_header_value("Content-Length");
          char* end = nullptr;
          const unsigned long long declared = std::strtoull(length.c_str(), &end, 10);
          if (end == length.c_str() || *end != '\0') {
            res.set_header("Connection", "close");
            send_error(res, {400, "bad_request", "The Content-Length header is not a number."});
            return httplib::Server::HandlerResponse::Handled;
          }
          if (declared > options_.max_body_bytes) {
            res.set_header("Connection", "close");
            send_error(res, {413, "payload_too_large", ""});
            return httplib::Server::HandlerResponse::Handled;
          }
        }
        return httplib::Server::HandlerResponse::Unhandled;
      });

  auto dispatch = [this, apply, send_error](const httplib::Request& req, httplib::Response& res) {
    const RouteMatch match = router_.match(req.method, req.path);
    if (match.outcome == RouteMatch::Outcome::kNotFound) {
      return send_error(res, {404, "not_found", "Unknown route: " + req.method + " " + req.path});
    }
    if (match.outcome == RouteMatch::Outcome::kMethodNotAllowed) {
      std::string allow;
      for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
      res.set_header("Allow", allow);
      return send_error(
          res, {405, "method_not_allowed", "Method not allowed: " + req.method + " " + req.path});
    }
    Request request;
    request.method = req.method;
    request.path = req.path;
    request.path_remainder = match.remainder;
    for (const auto& [key, value] : req.params) request.query.emplace(key, value);
    for (const auto& [key, value] : req.headers) request.headers.add(key, value);
    request.body = req.body;
    auto hang_up = std::make_shared<HangUpCheck>(req);
    request.client_gone_check = [hang_up] { return (*hang_up)(); };

    Response response;
    try {
      response = (*match.handler)(request);
    } catch (const std::exception& e) {
      return send_error(res, {500, "internal", std::string("Internal error: ") + e.what()});
    }
    apply(response, res);
    if (!response.stream) return;
    auto stream = std::make_shared<StreamBody>(std::move(*response.stream));
    res.set_chunked_content_provider(
        response.content_type,
        [stream, hang_up](size_t, httplib::DataSink& sink) -> bool {
          SinkWriter writer(sink, hang_up);
          bool more = false;
          try {
            more = stream->produce(writer);
          } catch (...) {
            return false;  // drop the connection: a half-sent body cannot become an error
          }
          if (writer.failed()) return false;
          if (!more) sink.done();
          return true;
        },
        [stream](bool success) {
          if (stream->on_close) stream->on_close(success);
        });
  };
  // Every method goes to the router, which answers 404 / 405 itself.
  http.Get(".*", dispatch);
  http.Post(".*", dispatch);
  http.Put(".*", dispatch);
  http.Patch(".*", dispatch);
  http.Delete(".*", dispatch);

  // Anything that ends in an error status without a body (oversized body found while reading,
  // malformed HTTP) still gets a rendered error.
  http.set_error_handler(httplib::Server::HandlerWithResponse(
      [this, apply_cors, send_error](const httplib::Request& req,
                                     httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        apply_cors(req, res);
        TransportError error{res.status, "", ""};
        switch (res.status) {
          case 404:
            error.code = "not_found";
            error.message = "Unknown route: " + req.method + " " + req.path;
            break;
          case 413: error.code = "payload_too_large"; break;
          case 405:
            error.code = "method_not_allowed";
            error.message = "Method not allowed: " + req.method + " " + req.path;
            break;
          default:
            error.code = res.status >= 500 ? "internal" : "bad_request";
            error.message =
                "The request could not be processed (HTTP " + std::to_string(res.status) + ").";
        }
        send_error(res, error);
        return httplib::Server::HandlerResponse::Handled;
      }));

  http.set_exception_handler(
      [send_error](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unexpected error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        send_error(res, {500, "internal", "Internal error: " + what});
      });
}

Server::~Server() {
  stop();
}

bool Server::is_public(std::string_view path) const {
  for (const auto& p : options_.public_paths) {
    if (path == p) return true;
  }
  for (const auto& prefix : options_.public_prefixes) {
    if (path.starts_with(prefix)) return true;
  }
  return false;
}

Status Server::listen() {
  auto& http = impl_->http;
  int port = options_.port;
  if (port == 0) {
    port = http.bind_to_any_port(options_.host.c_str());
    if (port < 0) return unavailable("cannot bind " + options_.host);
  } else if (!http.bind_to_port(options_.host.c_str(), port)) {
    return unavailable("cannot listen on " + options_.host + ":" + std::to_string(port) +
                       " (is another server using the port?)");
  }
  bound_port_ = port;
  if (!http.listen_after_bind()) return fail("the HTTP server stopped with an error");
  return ok();
}

void Server::stop() {
  if (impl_) impl_->http.stop();
}

bool Server::is_running() const {
  return impl_ && impl_->http.is_running();
}

}  // namespace hearth::http
