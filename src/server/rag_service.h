// The seam through which RAG (src/rag, a layer above this one) plugs into `hearth serve`:
// it adds its own routes (/v1/files, /v1/vector_stores) and grounds chat completions that
// carry a "rag" field. The server knows only this interface; cmd_serve creates the
// implementation (rag::make_rag_service) and hands it over in ServiceOptions::rag, as it does
// the model router.
//
// Ownership: the Service holds it (shared_ptr) for its lifetime.
// Thread-safety: every method may be called from many request threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "http/router.h"
#include "server/api_error.h"

namespace hearth::server {

// One numbered source a grounded answer may cite as [n].
struct RagSource {
  int n = 0;
  std::string file_id;
  std::string filename;
  int page = 0;            // PDF page (1-based), 0 otherwise
  int64_t char_start = 0;  // UTF-8 byte span of the file's extracted text
  int64_t char_end = 0;
  std::string quote;  // the chunk's text
};

struct GroundedMessages {
  nlohmann::ordered_json messages;  // the conversation to generate from, sources included
  std::vector<RagSource> sources;   // [1] first
  int dropped = 0;                  // retrieved chunks that did not fit the context
};

struct CheckedCitations {
  std::string text;        // with citations that name no supplied source removed
  std::vector<int> cited;  // distinct source numbers cited, in order of first use
  int removed = 0;
};

// Prompt tokens of a conversation, as the model that will answer renders it.
using PromptTokenCounter = std::function<ApiResult<int>(const nlohmann::ordered_json& messages)>;

// Removes, while a reply streams, the [n] citations that name no supplied source: text from a
// '[' is held back until its ']' (or until it cannot be a citation: a character other than a
// digit, ',' or ' ', or more than 32 bytes) and the bracket is then handed to `check` whole,
// which returns what to send instead. The text sent is the text received with each complete
// bracket replaced by check's answer, however the text is split into pieces.
// Not thread-safe: one per stream.
class CitationFilter {
 public:
  explicit CitationFilter(std::function<std::string(const std::string& bracket)> check)
      : check_(std::move(check)) {}
  // The text that can be sent now.
  std::string feed(std::string_view text);
  // What is still held back (an unfinished bracket), at the end of the reply.
  std::string finish();

 private:
  std::function<std::string(const std::string&)> check_;
  std::string held_;
};

class RagService {
 public:
  virtual ~RagService() = default;
  virtual void register_routes(http::Router& router) = 0;
  // Retrieves for the last user message of `messages` from the stores `rag` names
  // ({"vector_store_ids": [...], "top_k": 6}) and returns the conversation with the sources
  // that fit in `max_prompt_tokens`. Errors: an unknown store is 404, a malformed `rag` 400.
  virtual ApiResult<GroundedMessages> ground(const nlohmann::ordered_json& rag,
                                             const nlohmann::ordered_json& messages,
                                             int max_prompt_tokens,
                                             const PromptTokenCounter& count) = 0;
  virtual CheckedCitations check_citations(const std::string& text, int n_sources) const = 0;
};

}  // namespace hearth::server
