// An incremental HTTP/1.1 request parser (RFC 9112): bytes in, one request out at a time.
// It knows nothing about sockets, so the transport feeds it whatever a read returned and the
// fuzzer feeds it anything at all.
//
// Strict where leniency lets a request be read two ways (request smuggling): both
// Content-Length and Transfer-Encoding, differing Content-Lengths, a transfer coding other than
// "chunked", whitespace before a header's colon and obsolete line folding are refused. Lenient
// where it costs nothing: bare LF line ends, empty lines before the request line, absolute-form
// targets ("http://host/path"), a missing Host.
//
// A plain value: one parser per connection, used by one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "http/http.h"

namespace hearth::http {

struct ParserLimits {
  size_t max_head_bytes = 64 * 1024;  // request line + header fields
  size_t max_header_fields = 128;
  size_t max_body_bytes = 16u << 20;
};

// What the parser gives the transport: a Request (method, path, query, headers, body) plus
// what only the transport needs.
struct ParsedRequest {
  Request request;
  std::string target;  // as sent, for logs
  int minor_version = 1;
  bool keep_alive = true;        // the connection may carry another request after this one
  bool expect_continue = false;  // "Expect: 100-continue": the client waits before its body
  bool head_only = false;        // HEAD: the reply has headers but no body
};

class RequestParser {
 public:
  enum class Status {
    kNeedMore,      // every byte consumed; feed more
    kHeadComplete,  // the request line and headers are parsed; the body (if any) follows
    kComplete,      // a whole request is ready in request(); reset() before the next
    kError,         // error_status() / error_message() say why; the connection must close
  };

  explicit RequestParser(ParserLimits limits = {})
      : limits_(limits), body_limit_(limits.max_body_bytes) {}

  // Consumes bytes from the front of `input` (advancing it) until one of the events above.
  // kHeadComplete is reported once per request, before its body is read, so the transport can
  // refuse the request (auth, size) or send "100 Continue" first. After kComplete, the bytes
  // left in `input` belong to the next (pipelined) request.
  Status feed(std::string_view& input);

  // Prepares for the next request on the same connection.
  void reset();

  // After kHeadComplete, for this request only: a lower body limit (the route's) and, with
  // `sink`, body bytes handed to it as they arrive instead of kept in request().body. False
  // when the declared Content-Length is already over `max_body_bytes` (answer 413).
  bool restrict_body(size_t max_body_bytes, std::function<void(std::string_view)> sink);
  // Body bytes received so far for the current request.
  uint64_t body_received() const { return body_received_; }

  // True while a request has started arriving (its first byte was read) and is not complete.
  bool in_request() const { return phase_ != Phase::kIdle && phase_ != Phase::kDone; }
  // True when no byte of a request has arrived since construction or reset().
  bool idle() const { return phase_ == Phase::kIdle; }
  bool reading_body() const;

  ParsedRequest& request() { return parsed_; }
  int error_status() const { return error_status_; }
  const std::string& error_message() const { return error_message_; }

 private:
  enum class Phase {
    kIdle,       // no byte of this request yet
    kHead,       // collecting the head until the empty line
    kFixedBody,  // Content-Length bytes to read
    kChunkSize,  // a chunk-size line
    kChunkData,  // chunk bytes
    kChunkEnd,   // the CRLF after a chunk
    kTrailers,   // trailer fields after the last chunk, until the empty line
    kDone,
    kError,
  };

  Status fail(int status, std::string message);
  void deliver(std::string_view bytes);
  Status parse_head(std::string_view head);
  Status finish_head();
  // Reads one line (without its CR LF or LF) from `input` into line_, across feeds; false when
  // the line is not complete yet. `limit` bounds the line.
  bool take_line(std::string_view& input, size_t limit, bool& too_long);

  ParserLimits limits_;
  Phase phase_ = Phase::kIdle;
  ParsedRequest parsed_;
  std::string head_;  // the head so far (kHead)
  std::string line_;  // a partial chunk-size or trailer line
  uint64_t remaining_ = 0;
  std::optional<uint64_t> declared_length_;
  uint64_t body_received_ = 0;
  size_t body_limit_ = 0;  // this request's; limits_.max_body_bytes unless restricted
  std::function<void(std::string_view)> sink_;
  size_t trailer_bytes_ = 0;
  int error_status_ = 0;
  std::string error_message_;
};

// Percent-decoding of a path; false on a malformed escape or a decoded NUL.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace hearth::http
