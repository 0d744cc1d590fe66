// Builds a message from pieces streamed in order (g++ 12 has no <format>).
#pragma once

#include <sstream>
#include <string>

namespace hearth::models {

template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace hearth::models
