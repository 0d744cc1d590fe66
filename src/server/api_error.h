// Errors in the shape OpenAI clients parse: {"error":{"message","type","param","code"}}
// with the HTTP status that goes with them. Every failure the server reports is one of
// these; it never answers with an HTML page or a stack trace.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string>

#include "hearth/status.h"
#include "http/http.h"
#include "http/server.h"

namespace hearth::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;            // empty: null
  std::string code;             // empty: null
  int retry_after_seconds = 0;  // > 0: sent as Retry-After

  nlohmann::ordered_json to_json() const;
};

template <class T>
using ApiResult = std::expected<T, ApiError>;

inline std::unexpected<ApiError> api_fail(ApiError error) {
  return std::unexpected<ApiError>(std::move(error));
}

ApiError invalid_request(std::string message, std::string param = {});
ApiError invalid_json(std::string detail);
ApiError unauthorized();
ApiError model_not_found(const std::string& model);
ApiError context_length_exceeded(int prompt_tokens, int max_tokens, int n_ctx);
ApiError payload_too_large(size_t limit_bytes);
ApiError server_busy(int retry_after_seconds);
ApiError not_found_route(const std::string& method, const std::string& path);
ApiError internal_error(std::string message);
// 507: a model that cannot fit in the server's memory budget.
ApiError insufficient_memory(std::string message);

// The one place where an engine or catalog failure gets its HTTP status, from its kind:
//   invalid_input 400, not_found 404, conflict 409, unavailable 503 (with Retry-After),
//   resource_exhausted 507, unsupported 501, cancelled 499, deadline_exceeded 504,
//   data_loss / internal 500.
// The message is kept; `code` is the kind's name except where OpenAI clients know another.
ApiError api_error_from(const Error& error);

// The HTTP response for an error: status, Retry-After and the JSON body.
http::Response error_response(const ApiError& error);
// A 200 (or other status) JSON response, the body written without failing on bad UTF-8.
http::Response json_response(int status, const nlohmann::ordered_json& body);
// How hearth answers what the transport refuses by itself (no key, no route, ...).
// `max_body_bytes` names the limit in the 413 message.
http::Response transport_error_response(const http::TransportError& error, size_t max_body_bytes);

}  // namespace hearth::server
