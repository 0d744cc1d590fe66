// Stop strings over streamed text.
//
// Generated text arrives piece by piece; a stop string can straddle pieces. StopStrings holds
// back just the tail that could still become a stop string and releases everything else, so
// a streaming client never sees any part of a stop string. One per generation; not
// thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops);

  // Adds generated text; returns the text now safe to emit. After a stop string matched,
  // stopped() is true and the match and everything after it are dropped.
  std::string push(std::string_view text);
  // At the end of generation: whatever is still held back (no stop string completed).
  std::string finish();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace hearth
