#include "rag/multipart.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "rag/parse.h"

namespace hearth::rag {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

struct Param {
  std::string name;  // lower case
  std::string value;
};

// `value; a=b; c="d;e"`: the leading value, then parameters. A quoted string may hold ';' and
// backslash escapes. kInvalidInput for an unterminated quote.
Result<std::vector<Param>> parse_params(std::string_view text, std::string& leading) {
  std::vector<Param> params;
  size_t i = 0;
  auto skip_ws = [&] {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  };
  const size_t first = text.find(';');
  leading = std::string(trim(text.substr(0, first)));
  if (first == std::string_view::npos) return params;
  i = first + 1;
  while (i < text.size()) {
    skip_ws();
    const size_t eq = text.find_first_of("=;", i);
    if (eq == std::string_view::npos || text[eq] == ';') {  // a bare token: ignored
      if (eq == std::string_view::npos) break;
      i = eq + 1;
      continue;
    }
    Param p;
    for (char c : trim(text.substr(i, eq - i)))
      p.name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    i = eq + 1;
    skip_ws();
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        const char c = text[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\' && i < text.size()) {
          p.value += text[i++];
          continue;
        }
        p.value += c;
      }
      if (!closed) return invalid_input("unterminated quoted parameter '" + p.name + "'");
      const size_t next = text.find(';', i);
      i = next == std::string_view::npos ? text.size() : next + 1;
    } else {
      const size_t next = text.find(';', i);
      const size_t end = next == std::string_view::npos ? text.size() : next;
      p.value = std::string(trim(text.substr(i, end - i)));
      i = end == text.size() ? end : end + 1;
    }
    params.push_back(std::move(p));
  }
  return params;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 5987 ext-value: charset'language'percent-encoded. Only UTF-8 (and ASCII) are decoded.
std::optional<std::string> decode_ext_value(std::string_view v) {
  const size_t q1 = v.find('\'');
  if (q1 == std::string_view::npos) return std::nullopt;
  const size_t q2 = v.find('\'', q1 + 1);
  if (q2 == std::string_view::npos) return std::nullopt;
  const std::string_view charset = v.substr(0, q1);
  if (!iequals(charset, "utf-8") && !iequals(charset, "us-ascii")) return std::nullopt;
  std::string out;
  for (size_t i = q2 + 1; i < v.size(); ++i) {
    if (v[i] == '%') {
      if (i + 2 >= v.size()) return std::nullopt;
      const int hi = hex_value(v[i + 1]), lo = hex_value(v[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += v[i];
    }
  }
  return out;
}

Status read_part_headers(std::string_view block, MultipartPart& part) {
  bool disposition = false;
  size_t i = 0;
  while (i < block.size()) {
    size_t end = block.find("\r\n", i);
    if (end == std::string_view::npos) end = block.size();
    const std::string_view line = block.substr(i, end - i);
    i = end + 2;
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0)
      return invalid_input("malformed part header line (no name before ':')");
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (iequals(name, "content-disposition")) {
      std::string kind;
      auto params = parse_params(value, kind);
      if (!params) return std::unexpected(params.error());
      if (!iequals(kind, "form-data"))
        return invalid_input("part Content-Disposition is '" + kind + "', not form-data");
      std::optional<std::string> ext_filename;
      for (const Param& p : *params) {
        if (p.name == "name") part.name = p.value;
        if (p.name == "filename") {
          part.filename = p.value;
          part.has_filename = true;
        }
        if (p.name == "filename*") ext_filename = decode_ext_value(p.value);
      }
      if (ext_filename) {  // RFC 7578 4.2: the extended form wins when it can be read
        part.filename = *ext_filename;
        part.has_filename = true;
      }
      disposition = true;
    } else if (iequals(name, "content-type")) {
      part.content_type = std::string(value);
    }
  }
  if (!disposition) return invalid_input("a part has no Content-Disposition header");
  return ok();
}

}  // namespace

Result<std::string> multipart_boundary(std::string_view content_type) {
  std::string kind;
  auto params = parse_params(content_type, kind);
  if (!params) return std::unexpected(params.error());
  if (!iequals(kind, "multipart/form-data"))
    return invalid_input("Content-Type must be multipart/form-data (got '" + kind + "')");
  for (const Param& p : *params) {
    if (p.name != "boundary") continue;
    if (p.value.empty() || p.value.size() > 70)
      return invalid_input("the multipart boundary must be 1 to 70 characters");
    for (char c : p.value) {
      const auto u = static_cast<unsigned char>(c);
      if (u < 0x20 || u > 0x7e) return invalid_input("the multipart boundary has a control byte");
    }
    return p.value;
  }
  return invalid_input("the multipart Content-Type has no boundary parameter");
}

Result<std::vector<MultipartPart>> parse_multipart(std::string_view body, std::string_view boundary,
                                                   const MultipartLimits& limits) {
  if (boundary.empty()) return invalid_input("empty multipart boundary");
  const std::string delimiter = "--" + std::string(boundary);
  const std::string separator = "\r\n" + delimiter;  // what ends a part's content
  size_t pos;
  if (body.substr(0, delimiter.size()) == delimiter) {
    pos = 0;
  } else {
    const size_t found = body.find(separator);
    if (found == std::string_view::npos)
      return invalid_input("the body holds no multipart boundary");
    pos = found + 2;
  }
  std::vector<MultipartPart> parts;
  for (;;) {
    // `pos` is at a delimiter line.
    size_t i = pos + delimiter.size();
    if (body.substr(i, 2) == "--") return parts;                         // the closing delimiter
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;  // transport padding
    if (body.substr(i, 2) != "\r\n")
      return invalid_input("a multipart boundary line is not followed by CRLF");
    i += 2;
    if (parts.size() >= limits.max_parts)
      return invalid_input("more than " + std::to_string(limits.max_parts) + " multipart parts");
    MultipartPart part;
    size_t content_start;
    if (body.substr(i, 2) == "\r\n") {  // no headers at all
      content_start = i + 2;
    } else {
      const size_t window = std::min(body.size() - i, limits.max_header_bytes + 4);
      const size_t end = body.substr(i, window).find("\r\n\r\n");
      if (end == std::string_view::npos)
        return invalid_input(window > limits.max_header_bytes
                                 ? "a multipart part's headers are over " +
                                       std::to_string(limits.max_header_bytes) + " bytes"
                                 : "a multipart part's headers do not end");
      if (auto s = read_part_headers(body.substr(i, end), part); !s)
        return std::unexpected(s.error());
      content_start = i + end + 4;
    }
    const size_t content_end = body.find(separator, content_start);
    if (content_end == std::string_view::npos)
      return invalid_input("the multipart body ends without its closing boundary");
    part.offset = content_start;
    part.size = content_end - content_start;
    parts.push_back(std::move(part));
    pos = content_end + 2;
  }
}

std::string sanitize_filename(std::string_view name) {
  const size_t slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    out += c;
  }
  const int64_t bad = first_invalid_utf8(out);
  if (bad >= 0) out.resize(static_cast<size_t>(bad));
  if (out.size() > 255) {
    size_t cut = 255;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
  }
  if (out.empty() || out == "." || out == "..") return "upload";
  return out;
}

}  // namespace hearth::rag
