// PDF through poppler-cpp: one section per page, pages separated by a blank line.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <memory>
#include <mutex>

#include "rag/parse.h"

namespace hearth::rag {
namespace {

// poppler prints its complaints about damaged files to stderr; the reason a file was skipped
// is reported by hearth instead.
void quiet(const std::string&, void*) {}

}  // namespace

Result<ParsedDocument> parse_pdf(const std::string& bytes) {
  static std::once_flag silence;
  std::call_once(silence, [] { poppler::set_debug_error_function(quiet, nullptr); });
  if (bytes.size() > static_cast<size_t>(INT32_MAX)) return invalid_input("PDF too large");
  std::unique_ptr<poppler::document> document(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (!document) {
    if (!bytes.starts_with("%PDF")) return invalid_input("not a PDF file (no %PDF header)");
    return invalid_input("corrupt or encrypted PDF (poppler cannot open it)");
  }
  if (document->is_locked()) return invalid_input("encrypted PDF (needs a password)");
  ParsedDocument doc{DocType::kPdf, {}, {}};
  const int pages = document->pages();
  for (int i = 0; i < pages; ++i) {
    std::unique_ptr<poppler::page> page(document->create_page(i));
    if (!page) continue;
    const poppler::byte_array utf8 = page->text().to_utf8();
    std::string text(utf8.begin(), utf8.end());
    for (char& c : text)
      if (c == '\0' || c == '\f') c = ' ';
    if (first_invalid_utf8(text) >= 0) continue;  // defensive: poppler's output is UTF-8
    const bool visible = text.find_first_not_of(" \t\r\n") != std::string::npos;
    if (!visible) continue;
    if (!doc.text.empty()) doc.text += "\n\n";
    const auto start = static_cast<int64_t>(doc.text.size());
    doc.text += text;
    doc.sections.push_back(Section{start, static_cast<int64_t>(doc.text.size()), i + 1, ""});
  }
  if (doc.sections.empty()) return invalid_input("PDF has no extractable text (scanned images?)");
  return doc;
}

}  // namespace hearth::rag
