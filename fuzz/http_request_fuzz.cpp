// Feeds arbitrary bytes to the HTTP/1.1 request parser, split at a point the input chooses,
// as a connection would: request after request until the bytes run out or one is refused.
// Checks the parser's own promises: it always consumes or stops, never reports a body larger
// than the limit, and always explains a refusal.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http/request_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t split = data[0] % 16 + 1;  // bytes per read
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  hearth::http::ParserLimits limits;
  limits.max_head_bytes = 4096;
  limits.max_header_fields = 32;
  limits.max_body_bytes = 8192;
  hearth::http::RequestParser parser(limits);
  using Status = hearth::http::RequestParser::Status;
  while (!input.empty()) {
    std::string_view piece = input.substr(0, split);
    input.remove_prefix(piece.size());
    while (!piece.empty()) {
      const size_t before = piece.size();
      const Status status = parser.feed(piece);
      if (status == Status::kError) {
        if (parser.error_status() < 400 || parser.error_message().empty()) std::abort();
        return 0;
      }
      if (status == Status::kComplete) {
        if (parser.request().request.body.size() > limits.max_body_bytes) std::abort();
        parser.reset();
        continue;
      }
      if (status == Status::kNeedMore && !piece.empty()) std::abort();
      if (status == Status::kNeedMore) break;
      (void)before;  // kHeadComplete may consume nothing more; the next feed goes on
    }
  }
  return 0;
}
