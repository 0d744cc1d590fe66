// Helpers shared by the two kinds of attempt (local.cpp, remote.cpp). Not a public header.
// Thread-safety: an Outcome belongs to one request (or its stream) at a time; the rest are
// pure functions.
#pragma once

#include <string>

#include "router/router_internal.h"
#include "router/sse.h"

namespace hearth::router {

using std::chrono::milliseconds;
inline constexpr milliseconds kPoll{
    100};  // how often a waiting request asks whether the client left

inline double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

inline std::string midstream_error(const std::string& message) {
  const json e = {{"error",
                   {{"message", message},
                    {"type", "server_error"},
                    {"param", nullptr},
                    {"code", "upstream_failed_midstream"}}}};
  return sse_event(e.dump(-1, ' ', false, json::error_handler_t::replace)) + "data: [DONE]\n\n";
}

// Settles an endpoint's accounting exactly once: succeeded, failed, or (when dropped without
// either, i.e. the client left) released.
class Outcome {
 public:
  Outcome(EndpointHealth& health, const Target& target) : health_(health), target_(target) {}
  ~Outcome() {
    if (!settled_) health_.released();
  }
  void ok(double ttft_ms, int64_t prompt, int64_t completion) {
    if (settled_) return;
    settled_ = true;
    health_.succeeded(ttft_ms, prompt, completion, target_.cost(prompt, completion));
  }
  void fail(const std::string& reason, int retry_after = 0) {
    if (settled_) return;
    settled_ = true;
    health_.failed(reason, retry_after);
  }
  void release() {
    if (settled_) return;
    settled_ = true;
    health_.released();
  }

 private:
  EndpointHealth& health_;
  const Target& target_;
  bool settled_ = false;
};

inline AttemptResult failure(RoutedRequest& request, const std::string& endpoint, Failure kind,
                             std::string label, server::ApiError error, int retry_after = 0) {
  request.attempts.push_back(endpoint + "=" + label);
  AttemptResult r;
  r.failure = kind;
  r.label = std::move(label);
  r.error = std::move(error);
  r.retry_after_s = retry_after;
  return r;
}

inline server::ApiError upstream_error(int status, std::string message) {
  return {.status = status,
          .message = std::move(message),
          .type = "server_error",
          .code = "upstream_error"};
}

}  // namespace hearth::router
