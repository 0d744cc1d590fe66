// Splitting a parsed document into chunks measured in the embedder's tokens. Each chunk is a
// byte span [start, end) of the document's extracted text, so a citation can be checked
// against the source. Chunks never cross a section (a PDF page, a Markdown/HTML heading
// section); inside one they prefer to end at a blank line (a paragraph, a top-level block of
// code) when one falls in their second half. Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rag/parse.h"

namespace hearth::rag {

struct ChunkOptions {
  int max_tokens = 256;  // per chunk, as counted by the TokenCounter
  int overlap = 32;      // tokens repeated from the end of the previous chunk
};

struct Chunk {
  int64_t start = 0;  // byte offsets into ParsedDocument::text
  int64_t end = 0;
  int page = 0;
  std::string heading;
  int n_tokens = 0;
};

// Tokens in a piece of text (a word and its trailing spaces). The embedder's tokenizer, or
// approximate_tokens when there is none.
using TokenCounter = std::function<int(std::string_view)>;

// About four bytes of English per token: used with `--embed none`, where no tokenizer exists.
int approximate_tokens(std::string_view piece);

// Chunks of `doc` in order. Invalid options (max_tokens < 8, overlap < 0 or >= max_tokens / 2)
// are clamped by the caller (see Collection); here they are taken as given but never loop.
std::vector<Chunk> chunk_document(const ParsedDocument& doc, const ChunkOptions& options,
                                  const TokenCounter& count);

}  // namespace hearth::rag
