// Turning one file into plain UTF-8 text plus the sections it is made of (pages of a PDF,
// heading sections of Markdown and HTML). Chunks later point into this text by byte offsets,
// so for text, Markdown and code files the text is the file's bytes unchanged.
// Pure functions: safe to call from any number of threads at once.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/status.h"

namespace hearth::rag {

enum class DocType { kText, kMarkdown, kHtml, kPdf, kCode };
const char* to_string(DocType type);

// A run of the extracted text [start, end) that a chunk must not cross.
struct Section {
  int64_t start = 0;
  int64_t end = 0;
  int page = 0;         // 1-based PDF page; 0 for other types
  std::string heading;  // "Install > Keys" for Markdown/HTML; empty elsewhere
};

struct ParsedDocument {
  DocType type = DocType::kText;
  std::string text;               // extracted UTF-8 text
  std::vector<Section> sections;  // ordered, non-overlapping, covering the text
};

// Files larger than this are refused (with a reason) instead of read: parsing holds the whole
// extracted text in memory, so the limit bounds memory. ParseOptions may lower or raise it.
inline constexpr int64_t kDefaultMaxFileBytes = 64ll * 1024 * 1024;

struct ParseOptions {
  int64_t max_file_bytes = kDefaultMaxFileBytes;
};

// The type by extension (.md, .html, .pdf, source extensions; anything else is text).
DocType detect_type(const std::filesystem::path& path);

// Reads and parses a file. The Error's message is the reason the file was skipped ("empty
// file", "binary file (NUL byte at offset 12)", "not valid UTF-8 at byte 7", "encrypted PDF",
// "file is 200.0 MB, over the 64.0 MB limit", ...); its kind is kInvalidInput for a file
// hearth cannot use and kNotFound/kUnavailable for one it cannot read.
Result<ParsedDocument> parse_file(const std::filesystem::path& path,
                                  const ParseOptions& options = {});

// The same over bytes in memory (tests, uploads); `type` says how to read them.
Result<ParsedDocument> parse_bytes(std::string bytes, DocType type);

// Offset of the first byte that is not part of valid UTF-8, or -1 when all of it is valid.
int64_t first_invalid_utf8(std::string_view bytes);

// Parsers of the formats that need a library (parse_pdf.cpp, parse_html.cpp).
Result<ParsedDocument> parse_pdf(const std::string& bytes);
Result<ParsedDocument> parse_html(const std::string& bytes);

}  // namespace hearth::rag
