#include "server/request_stream.h"

namespace hearth::server {

void StreamChannel::publish(StreamEvent event) {
  std::function<void()> wake;
  {
    std::lock_guard lock(mutex_);
    events_.push_back(std::move(event));
    wake.swap(wake_);
  }
  ready_.notify_one();
  if (wake) wake();
}

bool StreamChannel::poll_ready(std::function<void()> wake) {
  std::lock_guard lock(mutex_);
  if (!events_.empty()) return true;
  wake_ = std::move(wake);
  return false;
}

std::optional<StreamEvent> StreamChannel::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!ready_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
  StreamEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

}  // namespace hearth::server
