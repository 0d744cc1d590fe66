// One streamed chat completion sent by `hearth compare` to its in-process server, timed on the
// client's clock (first content byte, stream end) and read for the reply's timings, usage and
// the router's X-Hearth-Target.
//
// Thread-safety: stream_chat may run on many threads at once (one connection each).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "compare/compare.h"

namespace hearth::cli {

struct CompareRequest {
  int port = 0;
  std::string model;
  nlohmann::ordered_json messages;
  int max_tokens = 128;
  double temperature = 0;
  int64_t seed = -1;  // -1: none sent
};

// Fills the timing, usage, answer and error fields of `record` (never fails: a refused
// connection, an HTTP error or an error event is recorded as the request's error).
void stream_chat(const CompareRequest& request, compare::RequestRecord& record);

}  // namespace hearth::cli
