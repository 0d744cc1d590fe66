// Jinja2's built-in filters, tests and globals, plus Python's object protocol (attribute and
// item access, str/dict/list methods, iteration, `in`) as templates see it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/chat/renderer.h"
#include "engine/chat/value.h"

namespace hearth::chat {

// filters.cpp, tests.cpp
Value apply_filter(Renderer& renderer, const std::string& name, const Value& input, CallArgs& args);
bool apply_test(Renderer& renderer, const std::string& name, const Value& input, CallArgs& args);
// Jinja2 rejects unknown filter and test names when compiling; the parser checks with these.
bool is_known_filter(const std::string& name);
bool is_known_test(const std::string& name);

// access.cpp
// `obj.name`: Python attribute first (methods), then item; missing gives an Undefined whose
// hint is the message Jinja2 would raise when it is used.
Value get_attribute(const Value& obj, const std::string& name);
// `obj[key]`: item first, then attribute.
Value get_item(const Value& obj, const Value& key);
Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step);
// Python iteration: list items, dict keys, string characters; undefined is empty.
std::vector<Value> iterate(const Value& v);
bool contains(const Value& container, const Value& item);
// Python's int() conversion of an index-like value, with a TypeError-style message.
int64_t to_index(const Value& v, const char* what);

// globals.cpp
void install_globals(Scope& globals);
Value from_json(const nlohmann::ordered_json& json, int depth = 0);
// json.dumps(value, ensure_ascii=False, indent=..., separators=..., sort_keys=...)
struct JsonFormat {
  std::string indent;  // empty with has_indent=false means a single line
  bool has_indent = false;
  std::string item_separator = ", ";
  std::string key_separator = ": ";
  bool sort_keys = false;
  bool ensure_ascii = false;
};
std::string to_json(const Value& v, const JsonFormat& format);

}  // namespace hearth::chat
