// A multipart/form-data reader (RFC 7578 over RFC 2046) for uploads: POST /v1/files.
// It reads the whole body in place (a memory-mapped spool file or a string) and reports each
// part as a span of that body, so a 64 MB upload is never copied into memory. Every read is
// bounds-checked; a body that does not follow the format is an Error (kInvalidInput), never a
// crash or an out-of-range read. Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/status.h"

namespace hearth::rag {

struct MultipartPart {
  std::string name;      // the form field (Content-Disposition name)
  std::string filename;  // as the client sent it (unsanitized); see sanitize_filename
  bool has_filename = false;
  std::string content_type;  // empty when the part has none
  size_t offset = 0;         // the part's content: body[offset, offset + size)
  size_t size = 0;
};

struct MultipartLimits {
  size_t max_parts = 32;
  size_t max_header_bytes = 8192;  // the header block of one part
};

// The boundary parameter of a Content-Type header ("multipart/form-data; boundary=xyz", the
// value possibly quoted). kInvalidInput when the type is not multipart/form-data or the
// boundary is missing, empty, longer than 70 characters (RFC 2046) or malformed.
Result<std::string> multipart_boundary(std::string_view content_type);

// The parts of `body`. Text before the first boundary (preamble) and after the closing one
// (epilogue) is ignored; the closing boundary is required.
Result<std::vector<MultipartPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                                   const MultipartLimits& limits = {});

// A file name safe to show and store as metadata: only the last path component (after any
// '/' or '\\'), control characters removed, cut before the first byte that is not valid UTF-8,
// at most 255 bytes; "", "." and ".." become "upload". Never a path.
std::string sanitize_filename(std::string_view name);

}  // namespace hearth::rag
