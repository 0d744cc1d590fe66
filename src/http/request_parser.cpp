#include "http/request_parser.h"

#include <algorithm>
#include <cctype>
#include <utility>

namespace hearth::http {
namespace {

// RFC 9110 token characters (method names, header names).
bool is_tchar(unsigned char c) {
  if (std::isalnum(c)) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~': return true;
    default: return false;
  }
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool lists_token(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (equals_ignore_case(trim_ows(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

void parse_query(std::string_view query, std::multimap<std::string, std::string>& out) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    if (!pair.empty()) {
      const size_t eq = pair.find('=');
      std::string key;
      std::string value;
      // A malformed escape keeps the raw text: a query parameter is data, not a route.
      if (!percent_decode(pair.substr(0, eq), key, true)) key = pair.substr(0, eq);
      if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value, true)) {
        value = pair.substr(eq + 1);
      }
      out.emplace(std::move(key), std::move(value));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
}

}  // namespace

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
  out.clear();
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      const int hi = hex_value(in[i + 1]);
      const int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out.push_back(c);
  }
  return true;
}

bool RequestParser::reading_body() const {
  switch (phase_) {
    case Phase::kFixedBody:
    case Phase::kChunkSize:
    case Phase::kChunkData:
    case Phase::kChunkEnd:
    case Phase::kTrailers: return true;
    default: return false;
  }
}

void RequestParser::reset() {
  phase_ = Phase::kIdle;
  parsed_ = ParsedRequest{};
  head_.clear();
  line_.clear();
  remaining_ = 0;
  declared_length_.reset();
  body_received_ = 0;
  body_limit_ = limits_.max_body_bytes;
  sink_ = nullptr;
  trailer_bytes_ = 0;
  error_status_ = 0;
  error_message_.clear();
}

bool RequestParser::restrict_body(size_t max_body_bytes,
                                  std::function<void(std::string_view)> sink) {
  body_limit_ = max_body_bytes;
  sink_ = std::move(sink);
  if (declared_length_ && *declared_length_ > body_limit_) {
    fail(413, "The request body is larger than " + std::to_string(body_limit_) + " bytes.");
    return false;
  }
  return true;
}

void RequestParser::deliver(std::string_view bytes) {
  body_received_ += bytes.size();
  if (sink_) {
    sink_(bytes);
  } else {
    parsed_.request.body.append(bytes);
  }
}

RequestParser::Status RequestParser::fail(int status, std::string message) {
  phase_ = Phase::kError;
  error_status_ = status;
  error_message_ = std::move(message);
  return Status::kError;
}

bool RequestParser::take_line(std::string_view& input, size_t limit, bool& too_long) {
  too_long = false;
  const size_t lf = input.find('\n');
  const size_t take = lf == std::string_view::npos ? input.size() : lf + 1;
  if (line_.size() + take > limit) {
    too_long = true;
    return false;
  }
  line_.append(input.substr(0, take));
  input.remove_prefix(take);
  if (lf == std::string_view::npos) return false;
  line_.pop_back();  // LF
  if (!line_.empty() && line_.back() == '\r') line_.pop_back();
  return true;
}

RequestParser::Status RequestParser::feed(std::string_view& input) {
  for (;;) {
    switch (phase_) {
      case Phase::kDone: return Status::kComplete;
      case Phase::kError: return Status::kError;
      case Phase::kIdle: {
        // Empty lines between requests are tolerated (RFC 9112 section 2.2).
        while (!input.empty() && (input.front() == '\r' || input.front() == '\n')) {
          input.remove_prefix(1);
        }
        if (input.empty()) return Status::kNeedMore;
        phase_ = Phase::kHead;
        continue;
      }
      case Phase::kHead: {
        // Look for the blank line, starting a little before the new bytes in case it
        // straddles two reads.
        const size_t from = head_.size() >= 3 ? head_.size() - 3 : 0;
        const size_t room = limits_.max_head_bytes + 4 - head_.size();
        const size_t take = std::min(input.size(), room);
        head_.append(input.substr(0, take));
        size_t end = std::string::npos;
        size_t terminator = 0;
        for (size_t i = from; i < head_.size(); ++i) {
          if (head_[i] != '\n') continue;
          if (i + 1 < head_.size() && head_[i + 1] == '\n') {
            end = i + 1;
            terminator = 1;
            break;
          }
          if (i + 2 < head_.size() && head_[i + 1] == '\r' && head_[i + 2] == '\n') {
            end = i + 1;
            terminator = 2;
            break;
          }
        }
        if (end == std::string::npos) {
          input.remove_prefix(take);
          if (head_.size() > limits_.max_head_bytes) {
            return fail(431, "The request headers are larger than " +
                                 std::to_string(limits_.max_head_bytes) + " bytes.");
          }
          return Status::kNeedMore;
        }
        // Give back what belongs to the body or the next request.
        const size_t head_end = end + terminator;
        const size_t surplus = head_.size() - head_end;
        input.remove_prefix(take - surplus);
        head_.resize(end);
        if (head_.size() > limits_.max_head_bytes) {
          return fail(431, "The request headers are larger than " +
                               std::to_string(limits_.max_head_bytes) + " bytes.");
        }
        Status status = parse_head(head_);
        head_.clear();
        head_.shrink_to_fit();
        if (status == Status::kError) return status;
        return finish_head();
      }
      case Phase::kFixedBody: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size()));
        deliver(input.substr(0, take));
        input.remove_prefix(take);
        remaining_ -= take;
        if (remaining_ > 0) return Status::kNeedMore;
        phase_ = Phase::kDone;
        return Status::kComplete;
      }
      case Phase::kChunkSize: {
        bool too_long = false;
        if (!take_line(input, 1024, too_long)) {
          if (too_long) return fail(400, "A chunk-size line is too long.");
          return Status::kNeedMore;
        }
        std::string_view line = line_;
        const size_t ext = line.find(';');
        std::string_view digits = trim_ows(line.substr(0, ext));
        if (digits.empty() || digits.size() > 15) return fail(400, "Malformed chunk size.");
        uint64_t size = 0;
        for (char c : digits) {
          const int v = hex_value(c);
          if (v < 0) return fail(400, "Malformed chunk size.");
          size = size * 16 + static_cast<uint64_t>(v);
        }
        line_.clear();
        if (size > body_limit_ - std::min<uint64_t>(body_limit_, body_received_)) {
          return fail(413,
                      "The request body is larger than " + std::to_string(body_limit_) + " bytes.");
        }
        remaining_ = size;
        phase_ = size == 0 ? Phase::kTrailers : Phase::kChunkData;
        continue;
      }
      case Phase::kChunkData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, input.size()));
        deliver(input.substr(0, take));
        input.remove_prefix(take);
        remaining_ -= take;
        if (remaining_ > 0) return Status::kNeedMore;
        phase_ = Phase::kChunkEnd;
        continue;
      }
      case Phase::kChunkEnd: {
        bool too_long = false;
        if (!take_line(input, 2, too_long)) {
          if (too_long) return fail(400, "A chunk is longer than its size says.");
          return Status::kNeedMore;
        }
        if (!line_.empty()) return fail(400, "A chunk is longer than its size says.");
        phase_ = Phase::kChunkSize;
        continue;
      }
      case Phase::kTrailers: {
        bool too_long = false;
        if (!take_line(input, limits_.max_head_bytes, too_long)) {
          if (too_long) return fail(431, "The request trailers are too large.");
          return Status::kNeedMore;
        }
        trailer_bytes_ += line_.size() + 2;
        if (trailer_bytes_ > limits_.max_head_bytes) {
          return fail(431, "The request trailers are too large.");
        }
        const bool last = line_.empty();
        line_.clear();  // trailer fields are read and dropped: nothing in hearth uses them
        if (!last) continue;
        phase_ = Phase::kDone;
        return Status::kComplete;
      }
    }
  }
}

RequestParser::Status RequestParser::parse_head(std::string_view head) {
  Request& req = parsed_.request;
  // Request line: method SP request-target SP HTTP-version
  size_t eol = head.find('\n');
  std::string_view line = head.substr(0, eol);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
    return fail(400, "Malformed request line.");
  }
  const std::string_view method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(method)) return fail(400, "Malformed request method.");
  if (version.size() != 8 || !version.starts_with("HTTP/") || version[6] != '.' ||
      !std::isdigit(static_cast<unsigned char>(version[5])) ||
      !std::isdigit(static_cast<unsigned char>(version[7]))) {
    return fail(400, "Malformed HTTP version.");
  }
  if (version[5] != '1') return fail(505, "Only HTTP/1.0 and HTTP/1.1 are served.");
  parsed_.minor_version = version[7] - '0';
  if (target.empty()) return fail(400, "Empty request target.");
  for (char c : target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return fail(400, "Malformed request target.");
  }
  req.method = method;
  parsed_.target = target;
  parsed_.head_only = method == "HEAD";

  std::string_view path_and_query = target;
  if (target == "*") {
    if (method != "OPTIONS") return fail(400, "Malformed request target.");
  } else if (target.front() != '/') {
    // absolute-form: scheme "://" authority path
    const size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0) {
      return fail(400, "Malformed request target.");
    }
    const size_t path_start = target.find_first_of("/?", scheme_end + 3);
    path_and_query = path_start == std::string_view::npos ? "/" : target.substr(path_start);
  }
  const size_t q = path_and_query.find('?');
  std::string_view raw_path = path_and_query.substr(0, q);
  if (raw_path.empty()) raw_path = "/";
  if (!percent_decode(raw_path, req.path, false)) return fail(400, "Malformed request path.");
  const size_t fragment = path_and_query.find('#');
  if (q != std::string_view::npos) {
    parse_query(
        path_and_query.substr(
            q + 1, fragment == std::string_view::npos ? std::string_view::npos : fragment - q - 1),
        req.query);
  }

  // Header fields
  size_t count = 0;
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 1);
  while (!rest.empty()) {
    eol = rest.find('\n');
    line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    if (line.front() == ' ' || line.front() == '\t') {
      return fail(400, "Folded header lines are not accepted.");
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "Malformed header line.");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return fail(400, "Malformed header name.");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    for (char c : value) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f) return fail(400, "Malformed header value.");
    }
    if (++count > limits_.max_header_fields) {
      return fail(431,
                  "More than " + std::to_string(limits_.max_header_fields) + " header fields.");
    }
    req.headers.add(std::string(name), std::string(value));
  }
  return Status::kHeadComplete;
}

RequestParser::Status RequestParser::finish_head() {
  const Headers& headers = parsed_.request.headers;
  std::optional<uint64_t> length;
  bool chunked = false;
  bool has_transfer_encoding = false;
  for (const auto& [name, value] : headers.fields()) {
    if (equals_ignore_case(name, "Content-Length")) {
      // "Content-Length: 5, 5" and repeated equal values are one length; anything else is not.
      std::string_view v = value;
      while (!v.empty()) {
        const size_t comma = v.find(',');
        uint64_t n = 0;
        if (!parse_decimal(trim_ows(v.substr(0, comma)), n)) {
          return fail(400, "The Content-Length header is not a number.");
        }
        if (length && *length != n) return fail(400, "Conflicting Content-Length headers.");
        length = n;
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
      }
    } else if (equals_ignore_case(name, "Transfer-Encoding")) {
      has_transfer_encoding = true;
      std::string_view v = trim_ows(value);
      const size_t last_comma = v.rfind(',');
      const std::string_view last =
          trim_ows(last_comma == std::string_view::npos ? v : v.substr(last_comma + 1));
      if (!equals_ignore_case(last, "chunked") || chunked) {
        return fail(501, "Only the chunked transfer coding is accepted.");
      }
      if (last_comma != std::string_view::npos) {
        return fail(501, "Only the chunked transfer coding is accepted.");
      }
      chunked = true;
    }
  }
  if (has_transfer_encoding && length) {
    return fail(400, "A request may not carry both Content-Length and Transfer-Encoding.");
  }
  if (has_transfer_encoding && parsed_.minor_version == 0) {
    return fail(400, "Transfer-Encoding is not defined for HTTP/1.0.");
  }
  declared_length_ = length;
  if (length && *length > limits_.max_body_bytes) {
    return fail(413, "The request body is larger than " + std::to_string(limits_.max_body_bytes) +
                         " bytes.");
  }

  const auto connection = headers.get("Connection");
  if (parsed_.minor_version == 0) {
    parsed_.keep_alive = connection && lists_token(*connection, "keep-alive");
  } else {
    parsed_.keep_alive = !(connection && lists_token(*connection, "close"));
  }
  if (const auto expect = headers.get("Expect")) {
    if (!equals_ignore_case(*expect, "100-continue")) {
      return fail(417, "Only 'Expect: 100-continue' is understood.");
    }
    parsed_.expect_continue = parsed_.minor_version == 1 && (chunked || (length && *length > 0));
  }

  if (chunked) {
    phase_ = Phase::kChunkSize;
  } else if (length && *length > 0) {
    if (*length <= (1u << 20)) parsed_.request.body.reserve(static_cast<size_t>(*length));
    remaining_ = *length;
    phase_ = Phase::kFixedBody;
  } else {
    phase_ = Phase::kDone;
  }
  return Status::kHeadComplete;
}

}  // namespace hearth::http
