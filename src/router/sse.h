// Splits an upstream's Server-Sent Events byte stream into events as bytes arrive, and reads
// what the router needs from each OpenAI chunk. Upstream bytes are untrusted: anything that
// is not well-formed comes back as kMalformed, never an exception.
//
// Not thread-safe: one reader per upstream stream, used by one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::router {

struct SseFrame {
  enum class Kind { kData, kDone, kError, kMalformed } kind = Kind::kData;
  std::string payload;       // kData: the JSON text as received; kError/kMalformed: a description
  bool has_content = false;  // a chunk carrying output (content, text or tool calls)
  int64_t prompt_tokens = -1, completion_tokens = -1;  // from a `usage` object, when present
};

class SseReader {
 public:
  // Appends bytes and returns the events they complete.
  std::vector<SseFrame> feed(std::string_view bytes);
  bool idle() const { return buffer_.empty(); }

 private:
  std::string buffer_;
};

// Formats one SSE event.
inline std::string sse_event(std::string_view payload) {
  return "data: " + std::string(payload) + "\n\n";
}

}  // namespace hearth::router
