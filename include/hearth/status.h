// Error values used at every module boundary of hearth.
//
// A function that can fail on external input returns `Result<T>` (a std::expected holding
// either the value or an `Error`). Exceptions never cross a module boundary; asserts are only
// for programmer errors. `Error` is a plain value: cheap to move, safe to copy between threads.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace hearth {

struct Error {
  std::string message;
};

template <class T>
using Result = std::expected<T, Error>;

// Result<void> helpers: `return ok();` on success, `return fail("...")` on error.
using Status = Result<void>;
inline Status ok() {
  return {};
}

inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected<Error>(Error{std::move(message)});
}

}  // namespace hearth
