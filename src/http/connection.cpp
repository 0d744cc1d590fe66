#include "http/connection.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "http/stream_pump.h"

namespace hearth::http {
namespace {

using asio::ip::tcp;

// Bytes of pipelined requests held while an answer is in progress; beyond it the connection
// stops reading until the answer is sent (and so cannot see a hang-up meanwhile).
constexpr size_t kMaxBufferedInput = 1u << 20;
// After the last answer on a connection, how long its unread input is drained so that the
// kernel does not reset the connection before the client has read the answer.
constexpr auto kLingerTime = std::chrono::seconds(2);

const char* reason_phrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 499: return "Client Closed Request";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

const char* error_code_for(int status) {
  switch (status) {
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 417: return "expectation_failed";
    case 431: return "headers_too_large";
    case 501: return "not_implemented";
    case 505: return "http_version_not_supported";
    default: return status >= 500 ? "internal" : "bad_request";
  }
}

bool status_has_body(int status) {
  return status >= 200 && status != 204 && status != 304;
}

// A header value must not let a handler's text start another header or end the head.
bool safe_header_text(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return c == '\r' || c == '\n'; });
}

class PlainStream final : public ByteStream {
 public:
  PlainStream(tcp::socket socket, ConnectionHost& host) : socket_(std::move(socket)), host_(host) {
    asio::error_code ignored;
    socket_.non_blocking(true, ignored);
  }

  // Waits for readability and then reads into the loop's shared buffer: a connection that is
  // only waiting owns no read buffer.
  void receive(ReadHandler handler) override {
    socket_.async_wait(tcp::socket::wait_read, [this, handler = std::move(handler)](
                                                   const asio::error_code& error) mutable {
      if (error) return handler(error, {});
      auto [data, size] = host_.read_buffer();
      asio::error_code read_error;
      const size_t n = socket_.read_some(asio::buffer(data, size), read_error);
      if (read_error == asio::error::would_block || read_error == asio::error::try_again) {
        return receive(std::move(handler));
      }
      handler(read_error, std::string_view(data, n));
    });
  }
  void send_some(std::string_view bytes, WriteHandler handler) override {
    socket_.async_write_some(asio::buffer(bytes.data(), bytes.size()), std::move(handler));
  }
  void shutdown_send() override {
    asio::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
  }
  void close() override {
    asio::error_code ignored;
    socket_.close(ignored);
  }

 private:
  tcp::socket socket_;
  ConnectionHost& host_;
};

class TlsStream final : public ByteStream {
 public:
  TlsStream(tcp::socket socket, asio::ssl::context& context)
      : stream_(std::move(socket), context) {}

  void receive(ReadHandler handler) override {
    if (!handshaken_) {
      stream_.async_handshake(
          asio::ssl::stream_base::server,
          [this, handler = std::move(handler)](const asio::error_code& error) mutable {
            if (error) return handler(error, {});
            handshaken_ = true;
            receive(std::move(handler));
          });
      return;
    }
    if (!buffer_) buffer_ = std::make_unique<char[]>(kBufferSize);
    stream_.async_read_some(
        asio::buffer(buffer_.get(), kBufferSize),
        [this, handler = std::move(handler)](const asio::error_code& error, size_t n) {
          handler(error, std::string_view(buffer_.get(), n));
        });
  }
  void send_some(std::string_view bytes, WriteHandler handler) override {
    stream_.async_write_some(asio::buffer(bytes.data(), bytes.size()), std::move(handler));
  }
  void shutdown_send() override {
    asio::error_code ignored;
    stream_.lowest_layer().shutdown(tcp::socket::shutdown_send, ignored);
  }
  void close() override {
    asio::error_code ignored;
    stream_.lowest_layer().close(ignored);
  }

 private:
  static constexpr size_t kBufferSize = 16 * 1024;
  asio::ssl::stream<tcp::socket> stream_;
  std::unique_ptr<char[]> buffer_;
  bool handshaken_ = false;
};

}  // namespace

// A request body on its way to a file. The loop fills `buffer`; one write task at a time (on
// a worker) appends what it was handed to the file, so the loop never waits for the disk.
struct Connection::Spool {
  std::shared_ptr<SpooledBody> file = std::make_shared<SpooledBody>();
  int fd = -1;           // used only by the write task in flight
  std::string buffer;    // loop: bytes not yet handed to a write task
  bool writing = false;  // loop: a write task is in flight
  bool started = false;  // loop: a write task was issued (the file exists)
  ~Spool() {
    if (fd >= 0) ::close(fd);
  }
};

namespace {
// Bytes gathered before a write task is issued, and held at most before reading pauses.
constexpr size_t kSpoolChunk = 256 * 1024;
constexpr size_t kSpoolMaxBuffered = 4u << 20;
}  // namespace

std::unique_ptr<ByteStream> make_plain_stream(tcp::socket socket, ConnectionHost& host) {
  return std::make_unique<PlainStream>(std::move(socket), host);
}

std::unique_ptr<ByteStream> make_tls_stream(tcp::socket socket, asio::ssl::context& context) {
  return std::make_unique<TlsStream>(std::move(socket), context);
}

Connection::Connection(ConnectionHost& host, std::unique_ptr<ByteStream> stream)
    : host_(host),
      stream_(std::move(stream)),
      parser_(ParserLimits{.max_body_bytes =
                               host.router().largest_body(host.options().max_body_bytes)}) {}

Connection::~Connection() {
  if (stream_) stream_->close();
}

void Connection::start() {
  idle_since_ = Clock::now();
  ensure_receiving();
}

void Connection::refuse(const Response& response) {
  keep_alive_ = false;
  respond_now(response);
}

void Connection::drain() {
  keep_alive_ = false;
  if (state_ == State::kReading && !parser_.in_request()) close_now();
}

void Connection::close_now() {
  if (state_ == State::kClosed) return;
  state_ = State::kClosed;
  gone_->store(true, std::memory_order_relaxed);
  stream_->close();
  output_.clear();
  unsent_ = 0;
  if (pump_) {
    pump_->close();
    pump_.reset();
  }
  host_.forget(this);  // may drop the last owner but one: callers hold a shared_ptr
}

void Connection::ensure_receiving() {
  if (receiving_ || state_ == State::kClosed) return;
  // While an answer is in progress, keep reading only to notice a hang-up (and to hold a
  // bounded amount of pipelined input).
  if (state_ != State::kReading && state_ != State::kLingering &&
      input_.size() >= kMaxBufferedInput) {
    return;
  }
  if (spool_ && spool_->buffer.size() >= kSpoolMaxBuffered) return;  // the disk lags behind
  receiving_ = true;
  stream_->receive(
      [self = shared_from_this()](const asio::error_code& error, std::string_view data) {
        self->on_receive(error, data);
      });
}

void Connection::on_receive(const asio::error_code& error, std::string_view data) {
  receiving_ = false;
  if (state_ == State::kClosed) return;
  if (error) {
    if (state_ == State::kLingering) return close_now();
    return client_gone();
  }
  if (state_ == State::kLingering) return ensure_receiving();  // drained and dropped
  input_.append(data);
  if (state_ == State::kReading) process_input();
  ensure_receiving();
}

void Connection::client_gone() {
  // A client that shut only its sending side might still read, but nothing hearth serves
  // is asked that way, and a hang-up must free the work it started: treat it as gone.
  gone_->store(true, std::memory_order_relaxed);
  close_now();
}

void Connection::process_input() {
  while (state_ == State::kReading) {
    const auto now = Clock::now();
    if (input_.empty() && parser_.idle()) {
      if (host_.draining()) close_now();
      return;
    }
    const bool was_in_request = parser_.in_request();
    std::string_view in = input_;
    const RequestParser::Status status = parser_.feed(in);
    const size_t consumed = input_.size() - in.size();
    input_.erase(0, consumed);
    if (!was_in_request && parser_.in_request()) request_started_ = now;
    if (consumed > 0 && parser_.reading_body()) last_body_progress_ = now;
    if (spool_ && spool_->buffer.size() >= kSpoolChunk) {
      flush_spool(false);
      if (state_ != State::kReading) return;  // the write could not even start
    }

    switch (status) {
      case RequestParser::Status::kNeedMore:
        if (!parser_.in_request()) idle_since_ = now;
        return;
      case RequestParser::Status::kHeadComplete: {
        body_started_ = last_body_progress_ = now;
        ParsedRequest& parsed = parser_.request();
        keep_alive_ = parsed.keep_alive && !host_.draining();
        head_only_ = parsed.head_only;
        minor_version_ = parsed.minor_version;
        cors_ = Headers();
        host_.add_cors_headers(parsed.request, cors_);
        RouteMatch match;
        if (auto early = host_.screen(parsed.request, match)) {
          // Answered without a handler. A body that was announced is not read: the
          // connection ends after this answer.
          early_answer_ = true;
          if (parser_.reading_body()) keep_alive_ = false;
          respond_now(std::move(*early));
          return;
        }
        if (!start_spool(*match.options)) {
          keep_alive_ = false;
          respond_now(host_.render_error({413, "payload_too_large", parser_.error_message()}));
          return;
        }
        handler_ = match.handler;
        path_remainder_ = std::move(match.remainder);
        if (parsed.expect_continue) queue_output("HTTP/1.1 100 Continue\r\n\r\n");
        continue;
      }
      case RequestParser::Status::kComplete:
        if (spool_) {
          flush_spool(/*force=*/true);
          if (state_ != State::kReading) return;
          if (spool_->writing) {
            state_ = State::kFlushingBody;  // dispatched once the last write lands
            return;
          }
        }
        dispatch();
        return;
      case RequestParser::Status::kError: {
        keep_alive_ = false;
        head_only_ = false;
        const int code = parser_.error_status();
        respond_now(host_.render_error({code, error_code_for(code), parser_.error_message()}));
        return;
      }
    }
  }
}

void Connection::dispatch() {
  state_ = State::kHandling;
  auto request = std::make_shared<Request>(std::move(parser_.request().request));
  if (spool_) {
    request->body_file = spool_->file;
    spool_.reset();
  }
  request->path_remainder = std::move(path_remainder_);
  request->client_gone_check = [gone = gone_] { return gone->load(std::memory_order_relaxed); };
  ConnectionHost* host = &host_;
  const bool submitted = host_.workers().submit(std::function<void()>([self = shared_from_this(),
                                                                       host, handler = handler_,
                                                                       request]() mutable {
    Response response;
    try {
      response = (*handler)(*request);
    } catch (const std::exception& e) {
      response = host->render_error({500, "internal", std::string("Internal error: ") + e.what()});
    } catch (...) {
      response = host->render_error({500, "internal", "Internal error."});
    }
    request.reset();  // the body can be large: free it on the worker
    asio::post(host->io(), [self = std::move(self), response = std::move(response)]() mutable {
      self->on_response(std::move(response));
    });
  }));
  if (!submitted) {
    keep_alive_ = false;
    respond_now(host_.render_error({503, "unavailable", "The server is shutting down."}));
  }
  ensure_receiving();
}

void Connection::on_response(Response response) {
  if (state_ == State::kClosed || gone_->load(std::memory_order_relaxed)) {
    if (response.stream && response.stream->on_close) {
      host_.workers().run_or_inline(
          [close = std::move(response.stream->on_close)] { close(false); });
    }
    close_now();
    return;
  }
  if (host_.draining()) keep_alive_ = false;
  if (response.stream && !head_only_) {
    start_stream(std::move(response));
  } else {
    if (response.stream && response.stream->on_close) {
      host_.workers().run_or_inline(
          [close = std::move(response.stream->on_close)] { close(false); });
    }
    respond_now(std::move(response));
  }
}

std::string Connection::serialize_head(const Response& response, bool streamed) {
  std::string head;
  head.reserve(256);
  head += minor_version_ == 0 ? "HTTP/1.0 " : "HTTP/1.1 ";
  head += std::to_string(response.status);
  head += ' ';
  head += reason_phrase(response.status);
  head += "\r\n";
  auto add = [&](std::string_view name, std::string_view value) {
    if (!safe_header_text(name) || !safe_header_text(value)) return;
    head.append(name).append(": ").append(value).append("\r\n");
  };
  const bool has_body = status_has_body(response.status);
  if (has_body && !response.content_type.empty()) add("Content-Type", response.content_type);
  const std::optional<uint64_t> known_length =
      response.stream ? response.stream->length : std::optional<uint64_t>();
  if (has_body && known_length) {
    // A streamed body of known size (also what HEAD answers for it).
    add("Content-Length", std::to_string(*known_length));
  } else if (streamed) {
    if (minor_version_ >= 1) add("Transfer-Encoding", "chunked");
  } else if (has_body) {
    add("Content-Length", std::to_string(response.body.size()));
  }
  for (const auto& [name, value] : response.headers.fields()) {
    if (equals_ignore_case(name, "Content-Length") || equals_ignore_case(name, "Connection") ||
        equals_ignore_case(name, "Transfer-Encoding")) {
      continue;  // framing is the transport's
    }
    add(name, value);
  }
  for (const auto& [name, value] : cors_.fields()) {
    if (!response.headers.has(name)) add(name, value);
  }
  if (!keep_alive_) {
    add("Connection", "close");
  } else if (minor_version_ == 0) {
    add("Connection", "keep-alive");
  }
  head += "\r\n";
  return head;
}

void Connection::respond_now(Response response) {
  state_ = State::kResponding;
  std::string bytes = serialize_head(response, false);
  if (!head_only_ && status_has_body(response.status)) bytes += response.body;
  queue_output(std::move(bytes));
}

void Connection::start_stream(Response response) {
  state_ = State::kStreaming;
  const bool sized = response.stream->length.has_value();
  const bool chunked = !sized && minor_version_ >= 1;
  // HTTP/1.0 without a length: the body ends when the connection does.
  if (!chunked && !sized) keep_alive_ = false;
  queue_output(serialize_head(response, true));
  pump_ = std::make_shared<StreamPump>(std::move(*response.stream), weak_from_this(), host_.io(),
                                       host_.workers(), chunked);
  pump_->start();
}

void Connection::on_stream_output() {
  if (state_ != State::kStreaming || !pump_) return;
  if (pump_->aborted()) return close_now();  // a half-sent body cannot turn into an error
  std::string bytes = pump_->take();
  if (!bytes.empty()) queue_output(std::move(bytes));
  if (state_ != State::kStreaming || !pump_) return;
  pump_->on_backlog(unsent_);
  if (pump_->finished() && output_.empty()) finish_exchange();
}

void Connection::queue_output(std::string bytes) {
  if (bytes.empty() || state_ == State::kClosed) return;
  unsent_ += bytes.size();
  output_.push_back(std::move(bytes));
  pump_output();
}

void Connection::pump_output() {
  if (sending_ || output_.empty() || state_ == State::kClosed) return;
  sending_ = true;
  last_send_progress_ = Clock::now();
  const std::string& front = output_.front();
  stream_->send_some(std::string_view(front).substr(output_offset_),
                     [self = shared_from_this()](const asio::error_code& error, size_t n) {
                       self->on_sent(error, n);
                     });
}

void Connection::on_sent(const asio::error_code& error, size_t n) {
  sending_ = false;
  if (state_ == State::kClosed) return;
  if (error) return client_gone();
  last_send_progress_ = Clock::now();
  output_offset_ += n;
  unsent_ -= std::min(unsent_, n);
  if (output_offset_ >= output_.front().size()) {
    output_.pop_front();
    output_offset_ = 0;
  }
  if (pump_) pump_->on_backlog(unsent_);
  if (!output_.empty()) return pump_output();
  if (state_ == State::kResponding) return finish_exchange();
  if (state_ == State::kStreaming && pump_ && pump_->finished()) return finish_exchange();
}

bool Connection::start_spool(const RouteOptions& route) {
  const size_t limit = route.max_body_bytes ? route.max_body_bytes : host_.options().max_body_bytes;
  std::function<void(std::string_view)> sink;
  if (route.spool_body && parser_.reading_body()) {
    spool_ = std::make_shared<Spool>();
    spool_->file->path = host_.spool_path();
    sink = [spool = spool_.get()](std::string_view bytes) { spool->buffer.append(bytes); };
  }
  return parser_.restrict_body(limit, std::move(sink));
}

void Connection::flush_spool(bool force) {
  if (!spool_ || spool_->writing) return;
  if (spool_->buffer.empty() && (!force || spool_->started)) return;
  spool_->writing = true;
  spool_->started = true;
  std::string chunk;
  chunk.swap(spool_->buffer);
  asio::io_context& io = host_.io();
  std::function<void()> task = [self = shared_from_this(), spool = spool_, chunk = std::move(chunk),
                                &io]() mutable {
    int error_number = 0;
    if (spool->fd < 0) {
      spool->fd = ::open(spool->file->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (spool->fd < 0) error_number = errno;
    }
    for (std::string_view rest = chunk; error_number == 0 && !rest.empty();) {
      const ssize_t n = ::write(spool->fd, rest.data(), rest.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) error_number = errno;
      if (n > 0) rest.remove_prefix(static_cast<size_t>(n));
    }
    if (error_number == 0) spool->file->size += chunk.size();
    asio::post(io,
               [self = std::move(self), error_number] { self->on_spool_written(error_number); });
  };
  if (!host_.workers().submit(std::move(task))) on_spool_written(ESHUTDOWN);
}

void Connection::on_spool_written(int error_number) {
  if (!spool_ || state_ == State::kClosed) return;
  spool_->writing = false;
  if (error_number != 0) {
    spool_.reset();  // removes what was written
    keep_alive_ = false;
    const bool full = error_number == ENOSPC || error_number == EDQUOT;
    respond_now(host_.render_error(
        {full ? 507 : 500, full ? "insufficient_storage" : "internal",
         std::string("Cannot store the request body: ") + std::strerror(error_number)}));
    return;
  }
  if (state_ == State::kFlushingBody) {
    flush_spool(/*force=*/false);
    if (spool_ && state_ == State::kFlushingBody && !spool_->writing) dispatch();
    return;
  }
  if (spool_->buffer.size() >= kSpoolChunk) flush_spool(false);
  ensure_receiving();  // reading may have paused for the disk
}

void Connection::finish_exchange() {
  spool_.reset();
  pump_.reset();
  handler_ = nullptr;
  early_answer_ = false;
  cors_ = Headers();
  if (!keep_alive_ || host_.draining() || gone_->load(std::memory_order_relaxed)) {
    return linger();
  }
  parser_.reset();
  state_ = State::kReading;
  idle_since_ = Clock::now();
  process_input();  // a pipelined request may be waiting
  ensure_receiving();
}

void Connection::linger() {
  state_ = State::kLingering;
  linger_since_ = Clock::now();
  input_.clear();
  input_.shrink_to_fit();
  stream_->shutdown_send();
  ensure_receiving();
}

void Connection::time_out(const char* what) {
  if (state_ == State::kReading && parser_.in_request()) {
    // The client is mid-request: tell it why before closing, if it still reads.
    keep_alive_ = false;
    head_only_ = false;
    respond_now(host_.render_error(
        {408, "request_timeout", std::string("The request's ") + what + " took too long."}));
    // If even the 408 cannot be sent, the write deadline closes the connection.
    return;
  }
  close_now();
}

void Connection::check_deadline(Clock::time_point now) {
  const ServerOptions& o = host_.options();
  if (sending_ && now - last_send_progress_ > std::chrono::seconds(o.write_timeout_seconds)) {
    return close_now();  // the client stopped reading
  }
  switch (state_) {
    case State::kReading:
      if (!parser_.in_request()) {
        if (now - idle_since_ > std::chrono::seconds(o.keep_alive_timeout_seconds)) close_now();
      } else if (parser_.reading_body()) {
        if (now - last_body_progress_ > std::chrono::seconds(o.read_timeout_seconds) ||
            now - body_started_ > std::chrono::seconds(o.body_timeout_seconds)) {
          time_out("body");
        }
      } else if (now - request_started_ > std::chrono::seconds(o.header_timeout_seconds)) {
        time_out("headers");
      }
      break;
    case State::kLingering:
      if (now - linger_since_ > kLingerTime) close_now();
      break;
    default: break;  // a handler or a stream owns the time; a stalled send is caught above
  }
}

}  // namespace hearth::http
