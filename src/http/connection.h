// One client connection on the event loop: reads and parses requests, hands each to a worker,
// writes the answers back in order, and enforces the deadlines. Internal to hearth_http
// (server.cpp owns the loop); see docs/architecture.md, "The HTTP front".
//
// Threading: a Connection lives on the event-loop thread; every method below is called there.
// Workers reach it only by posting to the loop. A streamed body's producer runs on workers
// and meets the connection in a StreamPump (connection.cpp), under that pump's mutex.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "http/request_parser.h"
#include "http/router.h"
#include "http/server.h"
#include "http/worker_pool.h"

namespace hearth::http {

class StreamPump;
class Connection;

// What every connection needs from the server that accepted it. Owned by the server, outlives
// its connections (the loop runs every connection down before the server goes).
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual asio::io_context& io() = 0;
  virtual WorkerPool& workers() = 0;
  virtual const ServerOptions& options() const = 0;
  virtual const Router& router() const = 0;
  // Looks at a request whose head has arrived: an early answer (401, 404, 405, a CORS
  // preflight) or nothing to go on. Fills `match` when the request is routed.
  virtual std::optional<Response> screen(const Request& request, RouteMatch& match) const = 0;
  // The CORS headers for a request (none when it carries no allowed Origin).
  virtual void add_cors_headers(const Request& request, Headers& out) const = 0;
  virtual Response render_error(const TransportError& error) const = 0;
  // True once the server drains: connections close after their current answer.
  virtual bool draining() const = 0;
  // The buffer the loop reads plain sockets into (only the loop uses it), so that an idle
  // connection holds no read buffer of its own.
  virtual std::pair<char*, size_t> read_buffer() = 0;
  virtual void forget(Connection* connection) = 0;
  // A fresh path for a spooled request body (RouteOptions::spool_body).
  virtual std::string spool_path() = 0;
};

using Clock = std::chrono::steady_clock;

// The socket under a connection, plain TCP or TLS.
class ByteStream {
 public:
  virtual ~ByteStream() = default;
  using ReadHandler = std::function<void(const asio::error_code&, std::string_view)>;
  using WriteHandler = std::function<void(const asio::error_code&, size_t)>;
  // Calls `handler` once with the bytes that arrived (valid during the call), or an error
  // (asio::error::eof when the client closed its side).
  virtual void receive(ReadHandler handler) = 0;
  virtual void send_some(std::string_view bytes, WriteHandler handler) = 0;
  virtual void shutdown_send() = 0;
  virtual void close() = 0;
};

std::unique_ptr<ByteStream> make_plain_stream(asio::ip::tcp::socket socket, ConnectionHost& host);
// The handshake runs inside the first receive().
std::unique_ptr<ByteStream> make_tls_stream(asio::ip::tcp::socket socket,
                                            asio::ssl::context& context);

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ConnectionHost& host, std::unique_ptr<ByteStream> stream);
  ~Connection();

  // Begins reading the first request.
  void start();
  // Answers 503 and closes: the server holds as many connections as it may.
  void refuse(const Response& response);
  // Called by the server's sweep a few times a second.
  void check_deadline(Clock::time_point now);
  // Drain: closes now when no request is in progress, else after the current answer.
  void drain();
  void close_now();
  bool closed() const { return state_ == State::kClosed; }

  // From the StreamPump (posted to the loop): produced bytes are waiting.
  void on_stream_output();

 private:
  enum class State {
    kReading,       // waiting for (more of) a request
    kFlushingBody,  // the request is complete; its spooled body is still being written
    kHandling,      // a worker runs the handler
    kResponding,    // writing an answer that is whole
    kStreaming,     // writing a streamed answer
    kLingering,     // answer sent, send side shut; reading until the client closes
    kClosed,
  };

  void ensure_receiving();
  void on_receive(const asio::error_code& error, std::string_view data);
  void process_input();
  void dispatch();
  void on_response(Response response);
  void respond_now(Response response);
  void start_stream(Response response);
  std::string serialize_head(const Response& response, bool streamed);
  void queue_output(std::string bytes);
  void pump_output();
  void on_sent(const asio::error_code& error, size_t n);
  void finish_exchange();
  void linger();
  void client_gone();
  void time_out(const char* what);
  bool start_spool(const RouteOptions& route);
  void flush_spool(bool force);
  void on_spool_written(int error_number);

  ConnectionHost& host_;
  std::unique_ptr<ByteStream> stream_;
  State state_ = State::kReading;
  RequestParser parser_;
  std::string input_;               // received, not yet parsed (pipelined requests wait here)
  std::deque<std::string> output_;  // to send, in order
  size_t output_offset_ = 0;        // bytes of output_.front() already sent
  size_t unsent_ = 0;               // bytes in output_ not sent yet
  bool receiving_ = false;
  bool sending_ = false;
  bool keep_alive_ = true;
  bool head_only_ = false;
  int minor_version_ = 1;
  bool early_answer_ = false;  // answered at the head; the request is not dispatched
  Headers cors_;               // for the current request's answer
  std::shared_ptr<std::atomic<bool>> gone_ = std::make_shared<std::atomic<bool>>(false);
  const Handler* handler_ = nullptr;  // the route of the request being read
  std::string path_remainder_;
  std::shared_ptr<StreamPump> pump_;
  struct Spool;
  std::shared_ptr<Spool> spool_;  // the body being written to a file (spooling routes)
  // Deadlines are checked against these by the sweep (check_deadline), so that nothing has to
  // be re-armed on every read or write.
  Clock::time_point idle_since_ = Clock::now();
  Clock::time_point request_started_{};
  Clock::time_point body_started_{};
  Clock::time_point last_body_progress_{};
  Clock::time_point last_send_progress_{};
  Clock::time_point linger_since_{};
};

}  // namespace hearth::http
