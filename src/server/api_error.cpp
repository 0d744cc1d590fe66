#include "server/api_error.h"

namespace hearth::server {

nlohmann::ordered_json ApiError::to_json() const {
  nlohmann::ordered_json body = {
      {"message", message}, {"type", type}, {"param", nullptr}, {"code", nullptr}};
  if (!param.empty()) body["param"] = param;
  if (!code.empty()) body["code"] = code;
  return {{"error", body}};
}

ApiError invalid_request(std::string message, std::string param) {
  return {.status = 400, .message = std::move(message), .param = std::move(param)};
}

ApiError invalid_json(std::string detail) {
  return {.status = 400,
          .message = "We could not parse the JSON body of your request: " + detail,
          .code = "invalid_json"};
}

ApiError unauthorized() {
  return {.status = 401,
          .message = "Incorrect or missing API key. Send it as 'Authorization: Bearer KEY'.",
          .type = "authentication_error",
          .code = "invalid_api_key"};
}

ApiError model_not_found(const std::string& model) {
  return {.status = 404,
          .message = "The model '" + model +
                     "' does not exist or is not available here. "
                     "GET /v1/models lists the models this server has.",
          .param = "model",
          .code = "model_not_found"};
}

ApiError context_length_exceeded(int prompt_tokens, int max_tokens, int n_ctx) {
  std::string message = "This model's maximum context length is " + std::to_string(n_ctx) +
                        " tokens. However, your messages resulted in " +
                        std::to_string(prompt_tokens) + " tokens";
  if (max_tokens > 0) {
    message += " and you asked for " + std::to_string(max_tokens) + " more";
  }
  message += ". Please reduce the length of the messages.";
  return {.status = 400,
          .message = std::move(message),
          .param = "messages",
          .code = "context_length_exceeded"};
}

ApiError payload_too_large(size_t limit_bytes) {
  return {.status = 413,
          .message = "The request body is larger than the limit of " + std::to_string(limit_bytes) +
                     " bytes.",
          .code = "payload_too_large"};
}

ApiError server_busy(int retry_after_seconds) {
  return {.status = 503,
          .message = "The server is busy: every slot and the queue are full. Retry later.",
          .type = "server_error",
          .code = "server_busy",
          .retry_after_seconds = retry_after_seconds};
}

ApiError not_found_route(const std::string& method, const std::string& path) {
  return {.status = 404, .message = "Unknown route: " + method + " " + path, .code = "not_found"};
}

ApiError insufficient_memory(std::string message) {
  return {.status = 507,
          .message = std::move(message),
          .type = "server_error",
          .code = "insufficient_memory"};
}

ApiError internal_error(std::string message) {
  return {.status = 500, .message = std::move(message), .type = "server_error"};
}

ApiError api_error_from(const Error& error) {
  ApiError out{.message = error.message, .code = std::string(error_kind_name(error.kind))};
  switch (error.kind) {
    case ErrorKind::kInvalidInput: out.status = 400; break;
    case ErrorKind::kNotFound: out.status = 404; break;
    case ErrorKind::kConflict: out.status = 409; break;
    case ErrorKind::kUnavailable:
      out.status = 503;
      out.type = "server_error";
      out.retry_after_seconds = 5;
      break;
    case ErrorKind::kResourceExhausted:
      // Memory is what runs out in a server that loads models (the budget's 507); a context
      // overflow has its own 400 shape (context_length_exceeded) made where it is detected.
      out = insufficient_memory(error.message);
      break;
    case ErrorKind::kUnsupported:
      out.status = 501;
      out.type = "server_error";
      break;
    case ErrorKind::kCancelled: out.status = 499; break;
    case ErrorKind::kDeadlineExceeded:
      out.status = 504;
      out.type = "server_error";
      break;
    case ErrorKind::kDataLoss:
    case ErrorKind::kInternal:
      out.status = 500;
      out.type = "server_error";
      break;
  }
  return out;
}

http::Response json_response(int status, const nlohmann::ordered_json& body) {
  return http::Response::json(
      status, body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}

http::Response error_response(const ApiError& error) {
  http::Response res = json_response(error.status, error.to_json());
  if (error.retry_after_seconds > 0) {
    res.headers.set("Retry-After", std::to_string(error.retry_after_seconds));
  }
  return res;
}

http::Response transport_error_response(const http::TransportError& error, size_t max_body_bytes) {
  switch (error.status) {
    case 401: return error_response(unauthorized());
    case 413: {
      // A route may have its own limit (uploads): the transport's message names the one hit.
      ApiError e = payload_too_large(max_body_bytes);
      if (!error.message.empty()) e.message = error.message;
      return error_response(e);
    }
    case 404: return error_response({.status = 404, .message = error.message, .code = "not_found"});
    default: break;
  }
  ApiError out{.status = error.status, .message = error.message};
  if (error.status >= 500) out.type = "server_error";
  return error_response(out);
}

}  // namespace hearth::server
