// Where the shared test fixtures live: $HEARTH_FIXTURES, else ../shared/fixtures beside the
// source tree (baked in at configure time).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace hearth::testing {

inline std::filesystem::path fixtures_dir() {
  if (const char* env = std::getenv("HEARTH_FIXTURES"); env && *env) return env;
  return HEARTH_DEFAULT_FIXTURES;
}

inline std::string hearth_binary() {
  return HEARTH_BINARY;
}

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace hearth::testing
