// hearth's own HTTP types: what a route handler sees (Request) and gives back (Response,
// possibly streamed). Nothing here knows the transport (server.cpp, an event loop on Asio).
//
// Its own library (hearth_http) that depends on nothing else in hearth but the public status
// header: the server's routes, the router and the web app all speak HTTP through it.
//
// Handlers run on worker threads, never on the event loop, and never touch a socket. A
// handler that needs time (waiting for a generation) either polls `Request::client_gone()`
// while it waits, or returns a streamed Response whose producer the transport calls again and
// again (see StreamBody::poll_ready for producers that wait on events).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::http {

// Header fields in arrival order; names compare case-insensitively (RFC 9110).
// A plain value: not thread-safe to mutate, safe to read from several threads.
class Headers {
 public:
  // The first value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  // Replaces every value of `name` with `value`.
  void set(std::string name, std::string value);
  // Adds a value, keeping earlier ones (e.g. a second Vary).
  void add(std::string name, std::string value);
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool equals_ignore_case(std::string_view a, std::string_view b);

// A request body that was written to a temporary file as it arrived (a route with
// RouteOptions::spool_body). The file is removed when the last holder lets go.
struct SpooledBody {
  std::string path;
  uint64_t size = 0;
  SpooledBody() = default;
  SpooledBody(const SpooledBody&) = delete;
  SpooledBody& operator=(const SpooledBody&) = delete;
  ~SpooledBody();
};

struct Request {
  std::string method;  // upper case: GET, POST ...
  std::string path;    // without the query string, percent-decoded
  // For a prefix route ("/openai/load/*"): the path after the prefix ("qwen2.5-0.5b").
  std::string path_remainder;
  std::multimap<std::string, std::string> query;
  Headers headers;
  std::string body;
  // Set instead of `body` on routes that spool their body to disk (uploads).
  std::shared_ptr<const SpooledBody> body_file;

  std::optional<std::string_view> header(std::string_view name) const { return headers.get(name); }
  // The first value of query parameter `name`.
  std::optional<std::string> query_param(const std::string& name) const;

  // True once the client closed its connection; a handler waiting for slow work polls this
  // and abandons the work. Set by the transport; false when it cannot tell.
  bool client_gone() const { return client_gone_check && client_gone_check(); }
  std::function<bool()> client_gone_check;
};

// The sink a streamed body writes into, from inside `StreamBody::produce`.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues one chunk for the client (a bounded buffer: a producer without poll_ready may wait
  // here for room); false when the client went away or stopped reading (stop producing).
  virtual bool write(std::string_view chunk) = 0;
  virtual bool client_gone() const = 0;
};

// A body produced while it is sent (SSE, NDJSON, download progress).
struct StreamBody {
  // Called repeatedly until it returns false. Each call writes what is ready (it may wait a
  // short while, ~100 ms, for more) and returns true to be called again, false when the body
  // is complete or the client is gone.
  std::function<bool(StreamWriter&)> produce;
  // Called once when the response ends, true when `produce` finished it, false when the
  // client went away or the transport gave up: release what the stream holds.
  std::function<void(bool completed)> on_close;
  // Optional, for producers that wait for events (tokens from a generation): returns true when
  // a `produce` call would find something ready now; otherwise keeps `wake` and calls it once,
  // from any thread, when that changes (never before returning). With it the transport makes
  // the first `produce` call at once and each later one only when ready, so a stream waiting
  // for its next token holds no thread.
  std::function<bool(std::function<void()> wake)> poll_ready;
  // The body's exact size when known (a file): sent as Content-Length instead of chunked
  // framing, so the client sees the size up front (progress bars, HEAD) and the connection
  // stays open afterwards. The producer must write exactly this many bytes; one that cannot
  // (the file shrank) throws, and the transport drops the connection.
  std::optional<uint64_t> length;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string content_type = "application/json";
  std::string body;
  std::optional<StreamBody> stream;  // set: `body` is ignored and the reply is chunked

  static Response json(int status, std::string body);
  static Response text(int status, std::string body, std::string content_type);
  static Response streamed(std::string content_type, StreamBody stream);
};

using Handler = std::function<Response(Request&)>;

}  // namespace hearth::http
