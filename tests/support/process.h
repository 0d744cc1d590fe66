// Running the hearth binary from tests: a shell command with extra environment, its exit
// code and combined output.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <map>
#include <string>

namespace hearth::testing {

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

inline CommandResult run_shell(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// "env VAR=value ... " for a command line (works after prlimit, timeout, ...).
inline std::string env_prefix(const std::map<std::string, std::string>& env) {
  std::string out = "env ";
  for (const auto& [k, v] : env) out += k + "=" + shell_quote(v) + " ";
  return out;
}

}  // namespace hearth::testing
