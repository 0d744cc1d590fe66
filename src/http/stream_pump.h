// Moves a streamed body (StreamBody) from its producer, which runs on worker threads, to its
// connection on the event loop, through a bounded buffer. Internal to hearth_http.
//
// The producer is called on a worker, one call at a time. A producer that offers
// `poll_ready` is called only when it will not wait, so a stream waiting for its next token
// holds no thread; one that does not is called again at once and may block inside.
// Backpressure: while more than `kHighWater` bytes wait for the socket the producer is not
// called (or, if it blocks, its write() waits) until they fall under `kLowWater`; the
// connection's write deadline drops a client that stops reading, and close() tells the
// producer (write() and client_gone() answer false / true from then on).
//
// Thread-safety: every method may be called from any thread; the loop-side ones (take,
// on_backlog, close) are called by the connection on the loop.
#pragma once

#include <asio.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>

#include "http/http.h"
#include "http/worker_pool.h"

namespace hearth::http {

class Connection;

class StreamPump : public std::enable_shared_from_this<StreamPump> {
 public:
  static constexpr size_t kHighWater = 256 * 1024;
  static constexpr size_t kLowWater = 64 * 1024;

  StreamPump(StreamBody body, std::weak_ptr<Connection> connection, asio::io_context& io,
             WorkerPool& workers, bool chunked);

  // Schedules the first produce call.
  void start();
  // The bytes produced since the last take, framed (chunked) and ready to send.
  std::string take();
  // The connection's count of bytes not yet on the socket.
  void on_backlog(size_t unsent);
  // The producer finished and every byte (including the last chunk) was taken.
  bool finished();
  // The producer threw: the connection must be dropped.
  bool aborted();
  // The answer ends early (client gone, deadline, shutdown).
  void close();

 private:
  class Writer;
  void schedule_locked(std::unique_lock<std::mutex>& lock);
  void run_once();
  void wake();
  void notify_loop_locked();
  void call_on_close(bool completed);

  StreamBody body_;
  std::weak_ptr<Connection> connection_;
  asio::io_context& io_;
  WorkerPool& workers_;
  const bool chunked_;

  std::mutex mutex_;
  std::condition_variable space_;
  std::string pending_;  // produced, not yet taken by the loop
  size_t backlog_ = 0;   // taken, not yet on the socket
  bool notify_posted_ = false;
  bool first_ = true;     // the first produce call is made without asking poll_ready
  bool running_ = false;  // a produce call is scheduled or running
  bool waiting_ = false;  // poll_ready said "not yet" and holds our wake callback
  bool paused_ = false;   // too much waits for the socket
  bool done_ = false;     // the producer returned false
  bool closed_ = false;
  bool aborted_ = false;
  bool on_close_called_ = false;
};

}  // namespace hearth::http
