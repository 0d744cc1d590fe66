// Text, Markdown and code files; type detection and the checks every file goes through.
#include "rag/parse.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>

namespace hearth::rag {
namespace fs = std::filesystem;

const char* to_string(DocType type) {
  switch (type) {
    case DocType::kText: return "text";
    case DocType::kMarkdown: return "markdown";
    case DocType::kHtml: return "html";
    case DocType::kPdf: return "pdf";
    case DocType::kCode: return "code";
  }
  return "text";
}

DocType detect_type(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (ext == ".md" || ext == ".markdown") return DocType::kMarkdown;
  if (ext == ".html" || ext == ".htm" || ext == ".xhtml") return DocType::kHtml;
  if (ext == ".pdf") return DocType::kPdf;
  static constexpr std::array<std::string_view, 26> kCode = {
      ".c",  ".h",   ".cc",    ".cpp",  ".hpp", ".cxx", ".py",  ".js", ".mjs",
      ".ts", ".go",  ".rs",    ".java", ".kt",  ".rb",  ".php", ".cs", ".swift",
      ".sh", ".lua", ".scala", ".sql",  ".pl",  ".zig", ".tsx", ".jsx"};
  if (std::find(kCode.begin(), kCode.end(), ext) != kCode.end()) return DocType::kCode;
  return DocType::kText;
}

int64_t first_invalid_utf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if ((c & 0xE0) == 0xC0)
      len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      len = 4, cp = c & 0x07;
    else
      return static_cast<int64_t>(i);
    if (i + len > n) return static_cast<int64_t>(i);
    for (int k = 1; k < len; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return static_cast<int64_t>(i);
      cp = (cp << 6) | (p[i + k] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return static_cast<int64_t>(i);
    i += len;
  }
  return -1;
}

namespace {

std::string mb(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024.0 * 1024.0));
  return buf;
}

Status check_text(std::string_view bytes) {
  if (bytes.empty()) return invalid_input("empty file");
  const size_t nul = bytes.find('\0');
  if (nul != std::string_view::npos)
    return invalid_input("binary file (NUL byte at offset " + std::to_string(nul) + ")");
  if (int64_t bad = first_invalid_utf8(bytes); bad >= 0)
    return invalid_input("not valid UTF-8 at byte " + std::to_string(bad));
  bool any_visible = std::any_of(bytes.begin(), bytes.end(), [](char c) {
    return !std::isspace(static_cast<unsigned char>(c));
  });
  if (!any_visible) return invalid_input("empty file (only whitespace)");
  return ok();
}

// Markdown: a heading line (outside fenced code) starts a section whose heading path is the
// chain of enclosing headings.
ParsedDocument parse_markdown(std::string text) {
  ParsedDocument doc{DocType::kMarkdown, std::move(text), {}};
  std::vector<std::pair<int, std::string>> stack;  // (level, title)
  Section current{0, 0, 0, ""};
  bool in_fence = false;
  size_t pos = 0;
  const std::string& t = doc.text;
  while (pos < t.size()) {
    size_t eol = t.find('\n', pos);
    if (eol == std::string::npos) eol = t.size();
    std::string_view line(t.data() + pos, eol - pos);
    if (line.starts_with("```") || line.starts_with("~~~")) in_fence = !in_fence;
    int level = 0;
    while (!in_fence && level < static_cast<int>(line.size()) && line[level] == '#') ++level;
    if (level >= 1 && level <= 6 &&
        (line.size() == static_cast<size_t>(level) || line[level] == ' ')) {
      std::string title(line.substr(level));
      while (!title.empty() && (title.front() == ' ')) title.erase(title.begin());
      while (!title.empty() && (title.back() == ' ' || title.back() == '#' || title.back() == '\r'))
        title.pop_back();
      if (static_cast<int64_t>(pos) > current.start) {
        current.end = static_cast<int64_t>(pos);
        doc.sections.push_back(current);
      }
      while (!stack.empty() && stack.back().first >= level) stack.pop_back();
      stack.emplace_back(level, title);
      std::string path;
      for (const auto& [l, name] : stack) path += (path.empty() ? "" : " > ") + name;
      current = Section{static_cast<int64_t>(pos), 0, 0, path};
    }
    pos = eol + 1;
  }
  current.end = static_cast<int64_t>(t.size());
  if (current.end > current.start) doc.sections.push_back(current);
  return doc;
}

}  // namespace

Result<ParsedDocument> parse_bytes(std::string bytes, DocType type) {
  if (type == DocType::kPdf) {
    if (bytes.empty()) return invalid_input("empty file");
    return parse_pdf(bytes);
  }
  if (auto s = check_text(bytes); !s) return std::unexpected(s.error());
  if (type == DocType::kHtml) return parse_html(bytes);
  if (type == DocType::kMarkdown) return parse_markdown(std::move(bytes));
  ParsedDocument doc{type, std::move(bytes), {}};
  doc.sections.push_back(Section{0, static_cast<int64_t>(doc.text.size()), 0, ""});
  return doc;
}

Result<ParsedDocument> parse_file(const fs::path& path, const ParseOptions& options) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) return not_found("no such file");
  if (!fs::is_regular_file(status)) return invalid_input("not a regular file");
  const auto size = static_cast<int64_t>(fs::file_size(path, ec));
  if (ec) return unavailable("cannot read its size: " + ec.message());
  if (size > options.max_file_bytes)
    return invalid_input("file is " + mb(size) + ", over the " + mb(options.max_file_bytes) +
                         " limit");
  std::ifstream in(path, std::ios::binary);
  if (!in) return unavailable("cannot open for reading");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), size);
  if (in.gcount() != size) return unavailable("short read");
  return parse_bytes(std::move(bytes), detect_type(path));
}

}  // namespace hearth::rag
