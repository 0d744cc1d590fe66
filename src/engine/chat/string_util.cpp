#include "engine/chat/string_util.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>

#include "engine/chat/value.h"

namespace hearth::chat {
namespace {

struct CodePoint {
  uint32_t value;
  size_t begin;
  size_t end;
};

// Decodes leniently: a stray byte stands for itself, so malformed input never throws.
std::vector<CodePoint> decode(std::string_view s) {
  std::vector<CodePoint> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    if (i + len > s.size()) len = 1;
    uint32_t cp = len == 1 ? c : (c & (0x7F >> len));
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    out.push_back({cp, i, i + len});
    i += len;
  }
  return out;
}

bool is_ascii_alpha(uint32_t cp) {
  return cp < 0x80 && std::isalpha(static_cast<int>(cp));
}

}  // namespace

bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string strip_whitespace(std::string_view s, bool left, bool right) {
  auto cps = decode(s);
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && is_python_space(cps[b].value)) ++b;
  }
  if (right) {
    while (e > b && is_python_space(cps[e - 1].value)) --e;
  }
  if (b == e) return "";
  return std::string(s.substr(cps[b].begin, cps[e - 1].end - cps[b].begin));
}

std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right) {
  auto cps = decode(s);
  auto set = decode(chars);
  auto in_set = [&](uint32_t cp) {
    return std::any_of(set.begin(), set.end(), [&](const CodePoint& c) { return c.value == cp; });
  };
  size_t b = 0, e = cps.size();
  if (left) {
    while (b < e && in_set(cps[b].value)) ++b;
  }
  if (right) {
    while (e > b && in_set(cps[e - 1].value)) --e;
  }
  if (b == e) return "";
  return std::string(s.substr(cps[b].begin, cps[e - 1].end - cps[b].begin));
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string python_title(std::string_view s) {
  std::string out(s);
  bool previous_cased = false;
  for (auto& c : out) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalpha(u)) {
      c = static_cast<char>(previous_cased ? std::tolower(u) : std::toupper(u));
      previous_cased = true;
    } else {
      previous_cased = false;
    }
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out = ascii_lower(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string jinja_title(std::string_view s) {
  // Words start after runs of whitespace or any of -({[<, as in Jinja2's do_title.
  std::string out;
  bool word_start = true;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    bool separator = std::isspace(u) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (separator) {
      out += c;
      word_start = true;
    } else {
      out += static_cast<char>(word_start ? std::toupper(u) : std::tolower(u));
      word_start = false;
    }
  }
  return out;
}

std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right) {
  auto cps = decode(s);
  std::vector<std::string> parts;
  if (!from_right) {
    size_t i = 0;
    while (i < cps.size()) {
      while (i < cps.size() && is_python_space(cps[i].value)) ++i;
      if (i >= cps.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
        size_t e = cps.size();
        while (e > i && is_python_space(cps[e - 1].value)) --e;
        parts.emplace_back(s.substr(cps[i].begin, cps[e - 1].end - cps[i].begin));
        return parts;
      }
      size_t j = i;
      while (j < cps.size() && !is_python_space(cps[j].value)) ++j;
      parts.emplace_back(s.substr(cps[i].begin, cps[j - 1].end - cps[i].begin));
      i = j;
    }
    return parts;
  }
  size_t i = cps.size();
  while (i > 0) {
    while (i > 0 && is_python_space(cps[i - 1].value)) --i;
    if (i == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) >= maxsplit) {
      size_t b = 0;
      while (b < i && is_python_space(cps[b].value)) ++b;
      parts.emplace_back(s.substr(cps[b].begin, cps[i - 1].end - cps[b].begin));
      break;
    }
    size_t j = i;
    while (j > 0 && !is_python_space(cps[j - 1].value)) --j;
    parts.emplace_back(s.substr(cps[j].begin, cps[i - 1].end - cps[j].begin));
    i = j;
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> split_on(std::string_view s, std::string_view sep, int64_t maxsplit,
                                  bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      size_t pos = s.find(sep, start);
      if (pos == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, pos - start));
      start = pos + sep.size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t end = s.size();
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    if (end < sep.size()) break;
    size_t pos = s.rfind(sep, end - sep.size());
    if (pos == std::string_view::npos) break;
    parts.emplace_back(s.substr(pos + sep.size(), end - pos - sep.size()));
    end = pos;
  }
  parts.emplace_back(s.substr(0, end));
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e)) {
      lines.emplace_back(s.substr(start, i - start));
      if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string replace_all(std::string_view s, std::string_view old_text, std::string_view new_text,
                        int64_t count) {
  std::string out;
  if (old_text.empty()) {
    // Python inserts the replacement between every character and at both ends.
    auto chars = utf8_chars(s);
    int64_t done = 0;
    for (const auto& c : chars) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      out += c;
    }
    if (count < 0 || done < count) out += new_text;
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    size_t pos = s.find(old_text, start);
    if (pos == std::string_view::npos) break;
    out += s.substr(start, pos - start);
    out += new_text;
    start = pos + old_text.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

int64_t count_occurrences(std::string_view s, std::string_view sub) {
  if (sub.empty()) return static_cast<int64_t>(utf8_length(s)) + 1;
  int64_t n = 0;
  for (size_t pos = s.find(sub); pos != std::string_view::npos;
       pos = s.find(sub, pos + sub.size())) {
    ++n;
  }
  return n;
}

bool char_class_test(std::string_view s, std::string_view method) {
  auto cps = decode(s);
  if (cps.empty()) return false;
  if (method == "isspace") {
    return std::all_of(cps.begin(), cps.end(),
                       [](const CodePoint& c) { return is_python_space(c.value); });
  }
  if (method == "isdigit") {
    return std::all_of(cps.begin(), cps.end(),
                       [](const CodePoint& c) { return c.value >= '0' && c.value <= '9'; });
  }
  if (method == "isalpha") {
    return std::all_of(cps.begin(), cps.end(),
                       [](const CodePoint& c) { return is_ascii_alpha(c.value); });
  }
  if (method == "isalnum") {
    return std::all_of(cps.begin(), cps.end(), [](const CodePoint& c) {
      return is_ascii_alpha(c.value) || (c.value >= '0' && c.value <= '9');
    });
  }
  bool upper = method == "isupper";
  bool any_cased = false;
  for (const auto& c : cps) {
    if (!is_ascii_alpha(c.value)) continue;
    any_cased = true;
    bool is_upper = std::isupper(static_cast<int>(c.value));
    if (is_upper != upper) return false;
  }
  return any_cased;
}

std::string utf8_slice(std::string_view s, int64_t begin, int64_t end, int64_t step) {
  auto chars = utf8_chars(s);
  std::string out;
  for (int64_t i = begin; step > 0 ? i < end : i > end;) {
    if (i >= 0 && i < static_cast<int64_t>(chars.size())) out += chars[static_cast<size_t>(i)];
    if (__builtin_add_overflow(i, step, &i)) break;
  }
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string percent_format(const std::string& fmt, const Value& args) {
  std::vector<Value> values = args.is_tuple() ? args.list_data().items : std::vector<Value>{args};
  std::string out;
  size_t next = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    // %[flags][width][.precision]conversion, as in Python's printf-style formatting.
    std::string spec = "%";
    ++i;
    while (i < fmt.size() && std::string_view("-+ 0#").find(fmt[i]) != std::string_view::npos) {
      spec += fmt[i++];
    }
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])) && spec.size() < 8) {
      spec += fmt[i++];
    }
    if (i < fmt.size() && fmt[i] == '.') {
      spec += fmt[i++];
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i])) &&
             spec.size() < 12) {
        spec += fmt[i++];
      }
    }
    if (i >= fmt.size()) throw TemplateError("incomplete format");
    char conv = fmt[i];
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (next >= values.size()) throw TemplateError("not enough arguments for format string");
    const Value& v = values[next++];
    char buf[512];
    if (conv == 's' || conv == 'r' || conv == 'a') {
      std::string text = conv == 's' ? to_str(v) : to_repr(v);
      // Pad by hand: snprintf would count bytes, Python counts characters.
      bool left = spec.find('-') != std::string::npos;
      size_t width = 0, dot = spec.find('.');
      std::string digits = spec.substr(1, dot == std::string::npos ? std::string::npos : dot - 1);
      for (char c : digits) {
        if (std::isdigit(static_cast<unsigned char>(c)))
          width = width * 10 + static_cast<size_t>(c - '0');
      }
      if (dot != std::string::npos) {
        size_t precision = static_cast<size_t>(std::atoi(spec.c_str() + dot + 1));
        auto chars = utf8_chars(text);
        if (chars.size() > precision) {
          text.clear();
          for (size_t k = 0; k < precision; ++k) text += chars[k];
        }
      }
      size_t len = utf8_length(text);
      std::string pad(width > len ? width - len : 0, ' ');
      out += left ? text + pad : pad + text;
    } else if (std::string_view("diouxXeEfFgGc").find(conv) != std::string_view::npos) {
      if (v.is_undefined()) v.fail_undefined();
      if (!v.is_number()) {
        throw TemplateError(std::string("%") + conv + " format: a real number is required, not " +
                            v.type_name());
      }
      if (conv == 'c') {
        out += static_cast<char>(v.as_int());
      } else if (std::string_view("diouxX").find(conv) != std::string_view::npos) {
        char c = conv == 'i' || conv == 'u' ? 'd' : conv;
        int64_t n = v.is_float() ? static_cast<int64_t>(v.as_double()) : v.as_int();
        std::snprintf(buf, sizeof buf, (spec + "ll" + c).c_str(), static_cast<long long>(n));
        out += buf;
      } else {
        std::snprintf(buf, sizeof buf, (spec + conv).c_str(), v.as_double());
        out += buf;
      }
    } else {
      throw TemplateError(std::string("unsupported format character '") + conv + "'");
    }
  }
  if (next < values.size()) {
    throw TemplateError("not all arguments converted during string formatting");
  }
  return out;
}

}  // namespace hearth::chat
