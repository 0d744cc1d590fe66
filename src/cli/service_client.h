// How CLI commands find and talk to the background service (`hearth service start`): its
// state lives in $HEARTH_HOME/service.json ({"pid","port"}) and its log in service.log.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "hearth/status.h"

namespace hearth::cli {

struct ServiceState {
  pid_t pid = 0;
  int port = 0;
};

std::filesystem::path service_state_path(const std::filesystem::path& home);
std::filesystem::path service_log_path(const std::filesystem::path& home);

// The recorded service, if its process still runs; a record whose process is gone (killed,
// crashed) is removed on the way, so no stale pid file outlives it.
std::optional<ServiceState> running_service(const std::filesystem::path& home);

// Starts `hearth serve --port PORT EXTRA...` in its own session (setsid), detached, with its
// output in service.log; waits until it answers. An Error carries the log's last lines.
Result<ServiceState> start_service(const std::filesystem::path& home, int port,
                                   const std::vector<std::string>& extra_args);
// SIGTERM, then SIGKILL after a grace period; removes the record. False when none ran.
Result<bool> stop_service(const std::filesystem::path& home);

// The endpoint base URL, e.g. http://127.0.0.1:8000.
std::string endpoint_url(const ServiceState& s);

struct HttpReply {
  int status = 0;
  std::string body;
};
// One request to the service; an Error when it cannot be reached.
Result<HttpReply> service_request(
    const ServiceState& s, const std::string& method, const std::string& path,
    const std::string& body = {}, int timeout_seconds = 600,
    const std::function<bool(const char*, size_t)>& on_chunk = nullptr);

// The message of an OpenAI-style error body, or the body itself.
std::string error_text(const HttpReply& reply);

}  // namespace hearth::cli
