// Error values used at every module boundary of hearth.
//
// A function that can fail on external input returns `Result<T>` (a std::expected holding
// either the value or an `Error`). Exceptions never cross a module boundary; asserts are only
// for programmer errors. `Error` is a plain value: cheap to move, safe to copy between threads.
//
// Every Error has a kind, so that a caller several modules up (the HTTP front, the CLI, a
// router choosing another backend) can react to what went wrong without parsing the message.
// The HTTP status of each kind is decided in one place (server/api_error.cpp).
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace hearth {

enum class ErrorKind {
  kInvalidInput,       // the caller's input is malformed or out of range (HTTP 400)
  kNotFound,           // a named model, file, route or object does not exist (404)
  kConflict,           // the object exists but is in a state that forbids this (409)
  kUnavailable,        // try again later: busy, shutting down, upstream down (503)
  kResourceExhausted,  // memory, context, disk or a quota is too small (507 / 400 / 429)
  kUnsupported,        // valid, but this build or model cannot do it (501 / 400)
  kCancelled,          // the caller went away or asked to stop (499)
  kDeadlineExceeded,   // a deadline passed before the work finished (504)
  kDataLoss,           // stored or downloaded bytes are corrupt (500)
  kInternal,           // a bug or an unexpected failure of the system (500)
};

// A stable lower-case name ("invalid_input", ...) for logs and JSON.
constexpr std::string_view error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput: return "invalid_input";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kUnavailable: return "unavailable";
    case ErrorKind::kResourceExhausted: return "resource_exhausted";
    case ErrorKind::kUnsupported: return "unsupported";
    case ErrorKind::kCancelled: return "cancelled";
    case ErrorKind::kDeadlineExceeded: return "deadline_exceeded";
    case ErrorKind::kDataLoss: return "data_loss";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

struct Error {
  std::string message;
  ErrorKind kind = ErrorKind::kInternal;
};

template <class T>
using Result = std::expected<T, Error>;

// Result<void> helpers: `return ok();` on success, `return fail("...")` on error.
using Status = Result<void>;
inline Status ok() {
  return {};
}

inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected<Error>(Error{std::move(message), kind});
}
// An error of unknown kind: reported as internal. Prefer naming the kind.
inline std::unexpected<Error> fail(std::string message) {
  return fail(ErrorKind::kInternal, std::move(message));
}
inline std::unexpected<Error> invalid_input(std::string message) {
  return fail(ErrorKind::kInvalidInput, std::move(message));
}
inline std::unexpected<Error> not_found(std::string message) {
  return fail(ErrorKind::kNotFound, std::move(message));
}
inline std::unexpected<Error> unsupported(std::string message) {
  return fail(ErrorKind::kUnsupported, std::move(message));
}
inline std::unexpected<Error> resource_exhausted(std::string message) {
  return fail(ErrorKind::kResourceExhausted, std::move(message));
}
inline std::unexpected<Error> unavailable(std::string message) {
  return fail(ErrorKind::kUnavailable, std::move(message));
}

// Keeps the kind of `error` and puts `context` in front of its message ("loading x: ...").
inline std::unexpected<Error> with_context(std::string_view context, const Error& error) {
  std::string message(context);
  message += ": ";
  message += error.message;
  return fail(error.kind, std::move(message));
}

}  // namespace hearth
