#include "server/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <cstdlib>

namespace hearth::server {

void send_json(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

void send_error(httplib::Response& res, const ApiError& error) {
  if (error.retry_after_seconds > 0) {
    res.set_header("Retry-After", std::to_string(error.retry_after_seconds));
  }
  send_json(res, error.status,
            error.to_json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

HttpServer::HttpServer(HttpOptions options)
    : options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  const int workers = std::max(4, options_.worker_threads);
  server_->new_task_queue = [workers] {
    return new httplib::ThreadPool(static_cast<size_t>(workers));
  };
  server_->set_read_timeout(options_.read_timeout_seconds, 0);
  server_->set_write_timeout(options_.write_timeout_seconds, 0);
  server_->set_payload_max_length(options_.max_body_bytes);
  server_->set_keep_alive_max_count(1000);

  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    apply_cors(req, res);
    if (req.method == "OPTIONS") {  // CORS preflight: answered here, never needs a key
      res.status = 204;
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!authorized(req)) {
      send_error(res, unauthorized());
      return httplib::Server::HandlerResponse::Handled;
    }
    // This runs before the body is read: refuse an oversized body now instead of reading
    // (and discarding) all of it first.
    if (req.has_header("Content-Length")) {
      const std::string length = req.get_header_value("Content-Length");
      char* end = nullptr;
      const unsigned long long declared = std::strtoull(length.c_str(), &end, 10);
      if (end == length.c_str() || *end != '\0') {
        res.set_header("Connection", "close");
        send_error(res, invalid_request("The Content-Length header is not a number."));
        return httplib::Server::HandlerResponse::Handled;
      }
      if (declared > options_.max_body_bytes) {
        res.set_header("Connection", "close");
        send_error(res, payload_too_large(options_.max_body_bytes));
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Anything that ends in an error status without a body (no route, oversized body,
  // malformed HTTP) still gets a JSON error.
  server_->set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req,
             httplib::Response& res) -> httplib::Server::HandlerResponse {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        apply_cors(req, res);
        ApiError error;
        switch (res.status) {
          case 404: error = not_found_route(req.method, req.path); break;
          case 413: error = payload_too_large(options_.max_body_bytes); break;
          case 405:
            error = {.status = 405,
                     .message = "Method not allowed: " + req.method + " " + req.path};
            break;
          default:
            error = {.status = res.status,
                     .message = "The request could not be processed (HTTP " +
                                std::to_string(res.status) + ")."};
            if (res.status >= 500) error.type = "server_error";
        }
        send_error(res, error);
        return httplib::Server::HandlerResponse::Handled;
      }));

  server_->set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unexpected error";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        send_error(res, internal_error("Internal error: " + what));
      });
}

HttpServer::~HttpServer() {
  stop();
}

bool HttpServer::authorized(const httplib::Request& req) const {
  if (options_.api_keys.empty()) return true;
  if (std::find(public_paths_.begin(), public_paths_.end(), req.path) != public_paths_.end()) {
    return true;
  }
  const std::string header = req.get_header_value("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.compare(0, kBearer.size(), kBearer) != 0) {
    return false;
  }
  const std::string key = header.substr(kBearer.size());
  // Compare against every key without stopping early, so timing says nothing about which
  // prefix matched.
  bool match = false;
  for (const auto& candidate : options_.api_keys) {
    unsigned diff = candidate.size() ^ key.size();
    for (size_t i = 0; i < candidate.size(); ++i) {
      diff |= static_cast<unsigned char>(candidate[i]) ^
              static_cast<unsigned char>(i < key.size() ? key[i] : 0);
    }
    match |= diff == 0;
  }
  return match;
}

void HttpServer::apply_cors(const httplib::Request& req, httplib::Response& res) const {
  if (options_.cors_origins.empty()) return;
  const std::string origin = req.get_header_value("Origin");
  if (origin.empty()) return;
  const bool any = std::find(options_.cors_origins.begin(), options_.cors_origins.end(), "*") !=
                   options_.cors_origins.end();
  const bool listed = std::find(options_.cors_origins.begin(), options_.cors_origins.end(),
                                origin) != options_.cors_origins.end();
  if (!any && !listed) return;
  res.set_header("Access-Control-Allow-Origin", any ? "*" : origin);
  if (!any) res.set_header("Vary", "Origin");
  res.set_header("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
  res.set_header(
      "Access-Control-Allow-Headers",
      "Authorization, Content-Type, OpenAI-Organization, OpenAI-Project, X-Stainless-*, *");
  res.set_header("Access-Control-Max-Age", "600");
}

Status HttpServer::listen() {
  int port = options_.port;
  if (port == 0) {
    port = server_->bind_to_any_port(options_.host.c_str());
    if (port < 0) return fail("cannot bind " + options_.host);
  } else if (!server_->bind_to_port(options_.host.c_str(), port)) {
    return fail("cannot listen on " + options_.host + ":" + std::to_string(port) +
                " (is another server using the port?)");
  }
  bound_port_ = port;
  if (!server_->listen_after_bind()) return fail("the HTTP server stopped with an error");
  return ok();
}

void HttpServer::stop() {
  if (server_) server_->stop();
}

bool HttpServer::is_running() const {
  return server_ && server_->is_running();
}

}  // namespace hearth::server
