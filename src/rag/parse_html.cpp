// HTML through gumbo (an HTML5 parser): visible text, block elements on their own lines,
// h1..h6 start sections whose heading path is the chain of enclosing headings.
#include <gumbo.h>

#include <string_view>

#include "rag/parse.h"

namespace hearth::rag {
namespace {

bool is_block(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_P:
    case GUMBO_TAG_DIV:
    case GUMBO_TAG_BR:
    case GUMBO_TAG_LI:
    case GUMBO_TAG_UL:
    case GUMBO_TAG_OL:
    case GUMBO_TAG_TR:
    case GUMBO_TAG_TABLE:
    case GUMBO_TAG_PRE:
    case GUMBO_TAG_BLOCKQUOTE:
    case GUMBO_TAG_SECTION:
    case GUMBO_TAG_ARTICLE:
    case GUMBO_TAG_HR:
    case GUMBO_TAG_DT:
    case GUMBO_TAG_DD:
    case GUMBO_TAG_TITLE: return true;
    default: return false;
  }
}

int heading_level(GumboTag tag) {
  switch (tag) {
    case GUMBO_TAG_H1: return 1;
    case GUMBO_TAG_H2: return 2;
    case GUMBO_TAG_H3: return 3;
    case GUMBO_TAG_H4: return 4;
    case GUMBO_TAG_H5: return 5;
    case GUMBO_TAG_H6: return 6;
    default: return 0;
  }
}

struct Walker {
  ParsedDocument doc{DocType::kHtml, {}, {}};
  std::vector<std::pair<int, std::string>> stack;
  Section current{0, 0, 0, ""};

  void newline() {
    if (!doc.text.empty() && doc.text.back() != '\n') doc.text += '\n';
  }
  void append(std::string_view s) {
    // Collapse runs of whitespace as a browser does (outside <pre>, which we do not special-case).
    for (char c : s) {
      const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (space) {
        if (!doc.text.empty() && doc.text.back() != ' ' && doc.text.back() != '\n') doc.text += ' ';
      } else {
        doc.text += c;
      }
    }
  }
  static void collect_text(const GumboNode* node, std::string& out) {
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA ||
        node->type == GUMBO_NODE_WHITESPACE) {
      out += node->v.text.text;
    } else if (node->type == GUMBO_NODE_ELEMENT) {
      const GumboVector& kids = node->v.element.children;
      for (unsigned i = 0; i < kids.length; ++i)
        collect_text(static_cast<const GumboNode*>(kids.data[i]), out);
    }
  }
  void start_section(int level, const GumboNode* node) {
    std::string title;
    collect_text(node, title);
    std::string clean;
    for (char c : title) {
      const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
      if (space) {
        if (!clean.empty() && clean.back() != ' ') clean += ' ';
      } else {
        clean += c;
      }
    }
    while (!clean.empty() && clean.back() == ' ') clean.pop_back();
    newline();
    const auto here = static_cast<int64_t>(doc.text.size());
    if (here > current.start) {
      current.end = here;
      doc.sections.push_back(current);
    }
    while (!stack.empty() && stack.back().first >= level) stack.pop_back();
    stack.emplace_back(level, clean);
    std::string path;
    for (const auto& [l, name] : stack) path += (path.empty() ? "" : " > ") + name;
    current = Section{here, 0, 0, path};
  }
  void walk(const GumboNode* node) {
    // Whitespace-only text between inline elements ("<b>a</b> <i>b</i>") separates words.
    if (node->type == GUMBO_NODE_TEXT || node->type == GUMBO_NODE_CDATA ||
        node->type == GUMBO_NODE_WHITESPACE) {
      append(node->v.text.text);
      return;
    }
    if (node->type != GUMBO_NODE_ELEMENT && node->type != GUMBO_NODE_DOCUMENT) return;
    const GumboVector* kids = nullptr;
    GumboTag tag = GUMBO_TAG_UNKNOWN;
    if (node->type == GUMBO_NODE_DOCUMENT) {
      kids = &node->v.document.children;
    } else {
      tag = node->v.element.tag;
      if (tag == GUMBO_TAG_SCRIPT || tag == GUMBO_TAG_STYLE || tag == GUMBO_TAG_NOSCRIPT ||
          tag == GUMBO_TAG_TEMPLATE || tag == GUMBO_TAG_HEAD)
        return;
      kids = &node->v.element.children;
    }
    const int level = heading_level(tag);
    if (level > 0) start_section(level, node);
    if (level > 0 || is_block(tag)) newline();
    for (unsigned i = 0; i < kids->length; ++i) walk(static_cast<const GumboNode*>(kids->data[i]));
    if (level > 0 || is_block(tag)) newline();
  }
};

}  // namespace

Result<ParsedDocument> parse_html(const std::string& bytes) {
  GumboOutput* output = gumbo_parse_with_options(&kGumboDefaultOptions, bytes.data(), bytes.size());
  if (!output) return invalid_input("HTML parser failed");
  Walker walker;
  walker.walk(output->document);
  gumbo_destroy_output(&kGumboDefaultOptions, output);
  walker.current.end = static_cast<int64_t>(walker.doc.text.size());
  if (walker.current.end > walker.current.start) walker.doc.sections.push_back(walker.current);
  if (walker.doc.text.find_first_not_of(" \n") == std::string::npos)
    return invalid_input("HTML has no visible text");
  return std::move(walker.doc);
}

}  // namespace hearth::rag
