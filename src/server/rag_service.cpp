#include "server/rag_service.h"

#include <cctype>
#include <utility>

namespace hearth::server {

std::string CitationFilter::feed(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (held_.empty()) {
      if (c == '[')
        held_ = "[";
      else
        out += c;
      continue;
    }
    if (c == '[') {  // the held text was not a citation; this may start one
      out += std::exchange(held_, "[");
      continue;
    }
    held_ += c;
    if (c == ']') {
      out += check_(held_);
      held_.clear();
    } else if (!(std::isdigit(static_cast<unsigned char>(c)) || c == ',' || c == ' ') ||
               held_.size() > 32) {
      out += std::exchange(held_, "");
    }
  }
  return out;
}

std::string CitationFilter::finish() {
  return std::exchange(held_, "");
}

}  // namespace hearth::server
