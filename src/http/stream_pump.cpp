#include "http/stream_pump.h"

#include <cstdio>

#include "http/connection.h"

namespace hearth::http {

class StreamPump::Writer final : public StreamWriter {
 public:
  explicit Writer(StreamPump& pump) : pump_(pump) {}

  bool write(std::string_view chunk) override {
    std::unique_lock lock(pump_.mutex_);
    if (pump_.closed_) return false;
    if (chunk.empty()) return true;
    if (pump_.chunked_) {
      char size[24];
      std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
      pump_.pending_ += size;
      pump_.pending_.append(chunk);
      pump_.pending_ += "\r\n";
    } else {
      pump_.pending_.append(chunk);
    }
    pump_.notify_loop_locked();
    if (!pump_.body_.poll_ready) {
      // A producer that blocks waits here for room; the write deadline ends the wait by
      // closing the pump when the client does not read.
      pump_.space_.wait(lock, [&] {
        return pump_.closed_ || pump_.pending_.size() + pump_.backlog_ <= kHighWater;
      });
    }
    return !pump_.closed_;
  }

  bool client_gone() const override {
    std::lock_guard lock(pump_.mutex_);
    return pump_.closed_;
  }

 private:
  StreamPump& pump_;
};

StreamPump::StreamPump(StreamBody body, std::weak_ptr<Connection> connection, asio::io_context& io,
                       WorkerPool& workers, bool chunked)
    : body_(std::move(body)),
      connection_(std::move(connection)),
      io_(io),
      workers_(workers),
      chunked_(chunked) {}

void StreamPump::start() {
  std::unique_lock lock(mutex_);
  schedule_locked(lock);
}

void StreamPump::schedule_locked(std::unique_lock<std::mutex>& lock) {
  if (running_ || waiting_ || paused_ || done_ || closed_) return;
  if (pending_.size() + backlog_ > kHighWater) {
    paused_ = true;
    return;
  }
  if (!first_ && body_.poll_ready) {
    // poll_ready keeps the callback and calls it (from the publishing thread) when an event
    // arrives; it never calls it before returning, so holding the lock here is safe.
    std::weak_ptr<StreamPump> weak = weak_from_this();
    if (!body_.poll_ready([weak] {
          if (auto pump = weak.lock()) pump->wake();
        })) {
      waiting_ = true;
      return;
    }
  }
  first_ = false;
  running_ = true;
  lock.unlock();
  if (!workers_.submit(std::function<void()>([self = shared_from_this()] { self->run_once(); }))) {
    lock.lock();
    running_ = false;
    closed_ = true;
    lock.unlock();
    call_on_close(false);
  }
  lock.lock();
}

void StreamPump::wake() {
  std::unique_lock lock(mutex_);
  if (!waiting_) return;
  waiting_ = false;
  schedule_locked(lock);
}

void StreamPump::run_once() {
  bool more = false;
  bool threw = false;
  {
    std::unique_lock lock(mutex_);
    if (closed_) {
      running_ = false;
      lock.unlock();
      call_on_close(false);
      return;
    }
  }
  Writer writer(*this);
  try {
    more = body_.produce(writer);
  } catch (...) {
    threw = true;
  }
  std::unique_lock lock(mutex_);
  running_ = false;
  if (threw) {
    aborted_ = true;
    notify_loop_locked();
  } else if (!more && !closed_) {
    done_ = true;
    if (chunked_) pending_ += "0\r\n\r\n";
    notify_loop_locked();
  }
  if (done_ || closed_ || aborted_) {
    const bool completed = done_ && !closed_;
    lock.unlock();
    call_on_close(completed);
    return;
  }
  schedule_locked(lock);
}

void StreamPump::call_on_close(bool completed) {
  {
    std::lock_guard lock(mutex_);
    if (on_close_called_) return;
    on_close_called_ = true;
  }
  if (body_.on_close) body_.on_close(completed);
}

void StreamPump::notify_loop_locked() {
  if (notify_posted_) return;
  notify_posted_ = true;
  asio::post(io_, [connection = connection_] {
    if (auto c = connection.lock()) c->on_stream_output();
  });
}

std::string StreamPump::take() {
  std::lock_guard lock(mutex_);
  notify_posted_ = false;
  backlog_ += pending_.size();
  std::string out;
  out.swap(pending_);
  return out;
}

void StreamPump::on_backlog(size_t unsent) {
  std::unique_lock lock(mutex_);
  backlog_ = unsent;
  if (pending_.size() + backlog_ <= kHighWater) space_.notify_all();
  if (paused_ && pending_.size() + backlog_ <= kLowWater) {
    paused_ = false;
    schedule_locked(lock);
  }
}

bool StreamPump::finished() {
  std::lock_guard lock(mutex_);
  return done_ && pending_.empty();
}

bool StreamPump::aborted() {
  std::lock_guard lock(mutex_);
  return aborted_;
}

void StreamPump::close() {
  bool idle = false;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return;
    closed_ = true;
    waiting_ = false;
    paused_ = false;
    idle = !running_;
  }
  space_.notify_all();
  // A running produce call sees closed_ and calls on_close when it returns; otherwise do it
  // now, on a worker, since on_close may take locks the loop must not wait for.
  if (!idle) return;
  workers_.run_or_inline([self = shared_from_this()] { self->call_on_close(false); });
}

}  // namespace hearth::http
