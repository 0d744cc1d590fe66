// Python str semantics on UTF-8 text: whitespace, case mapping (ASCII letters only), splitting.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat {

class Value;

// Python's str.isspace() for one code point.
bool is_python_space(uint32_t code_point);
std::string strip_whitespace(std::string_view s, bool left, bool right);
std::string strip_chars(std::string_view s, std::string_view chars, bool left, bool right);
std::string ascii_upper(std::string_view s);
std::string ascii_lower(std::string_view s);
std::string python_title(std::string_view s);  // str.title()
std::string capitalize(std::string_view s);    // str.capitalize()
std::string jinja_title(std::string_view s);   // Jinja2's |title filter
std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool from_right);
std::vector<std::string> split_on(std::string_view s, std::string_view sep, int64_t maxsplit,
                                  bool from_right);
std::vector<std::string> split_lines(std::string_view s);
std::string replace_all(std::string_view s, std::string_view old_text, std::string_view new_text,
                        int64_t count);
int64_t count_occurrences(std::string_view s, std::string_view sub);
bool char_class_test(std::string_view s, std::string_view method);
std::string utf8_slice(std::string_view s, int64_t begin, int64_t end, int64_t step);
std::string html_escape(std::string_view s);
// Python's `"%s and %d" % args` (args: a tuple or a single value), for the conversions
// templates use.
std::string percent_format(const std::string& format, const Value& args);

}  // namespace hearth::chat
