// HTTP requests to upstream OpenAI-compatible endpoints, all driven by one libcurl multi
// thread so that hundreds of concurrent upstream streams cost one thread, not hundreds.
//
// A request is started with UpstreamClient::start and read through the returned
// UpstreamCall: first one kHeaders event (status, Retry-After), then kData events as bytes
// arrive (not buffered: SSE passes through as it comes), then exactly one kDone. Dropping or
// cancel()ing the call aborts the transfer within about a second (libcurl's progress
// callback sees the flag even while the upstream sends nothing).
//
// Ownership: the router owns the client; calls share their state with the client thread, so
// either may go first. Thread-safety: start() and every UpstreamCall method may be called
// from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "hearth/status.h"

namespace hearth::router {

struct UpstreamRequest {
  std::string method = "POST";
  std::string url;
  std::string body;
  std::vector<std::string> headers;  // "Name: value"; holds secrets, never logged
  long connect_timeout_ms = 5000;
  long total_timeout_ms = 600000;
};

struct UpstreamEvent {
  enum class Kind { kHeaders, kData, kDone } kind = Kind::kData;
  int status = 0;         // kHeaders, kDone (0: no response)
  int retry_after_s = 0;  // kHeaders: a Retry-After in seconds
  std::string data;       // kData
  // kDone: empty on success, else what went wrong; `connect_failed` when no connection was
  // made (refused, unresolvable), `timed_out` when libcurl's own timeout fired.
  std::string error;
  bool connect_failed = false;
  bool timed_out = false;
};

class UpstreamCall {
 public:
  ~UpstreamCall() { cancel(); }
  // Blocks until the next event or the timeout; nullopt on timeout.
  std::optional<UpstreamEvent> next(std::chrono::milliseconds timeout);
  // For a reader that must not block (http::StreamBody::poll_ready): true when an event is
  // waiting; otherwise keeps `wake` (replacing an earlier one) and calls it once, outside
  // the lock, at the next push.
  bool poll_ready(std::function<void()> wake);
  void cancel() { cancelled_.store(true, std::memory_order_release); }
  bool cancelled() const { return cancelled_.load(std::memory_order_acquire); }

  // Producer side (the client thread).
  void push(UpstreamEvent event);

 private:
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<UpstreamEvent> events_;
  std::function<void()> wake_;
  std::atomic<bool> cancelled_{false};
};

class UpstreamClient {
 public:
  static Result<std::unique_ptr<UpstreamClient>> create();
  ~UpstreamClient();
  UpstreamClient(const UpstreamClient&) = delete;
  UpstreamClient& operator=(const UpstreamClient&) = delete;

  std::shared_ptr<UpstreamCall> start(UpstreamRequest request);
  // Aborts every transfer and joins the thread; calls still held see a kDone error.
  void shutdown();
  size_t active() const { return active_.load(); }

 private:
  struct Core;
  UpstreamClient() = default;
  void run();

  std::unique_ptr<Core> core_;
  std::thread thread_;
  std::atomic<size_t> active_{0};
};

}  // namespace hearth::router
