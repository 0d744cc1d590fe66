// Global functions a chat template can call (the Jinja2 builtins plus Hugging Face's
// raise_exception and strftime_now), and the JSON bridge in both directions.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "engine/chat/builtins.h"

namespace hearth::chat {
namespace {

constexpr int kMaxJsonDepth = 512;

void add_function(Scope& scope, const std::string& name, Function fn) {
  scope.vars[name] = Value::callable(name, std::move(fn));
}

Value make_range(Renderer& renderer, CallArgs& args) {
  if (!args.keyword.empty()) throw TemplateError("range() takes no keyword arguments");
  size_t n = args.positional.size();
  if (n < 1 || n > 3)
    throw TemplateError("range expected 1 to 3 arguments, got " + std::to_string(n));
  int64_t start = 0, stop, step = 1;
  if (n == 1) {
    stop = to_index(args.positional[0], "range");
  } else {
    start = to_index(args.positional[0], "range");
    stop = to_index(args.positional[1], "range");
    if (n == 3) step = to_index(args.positional[2], "range");
  }
  if (step == 0) throw TemplateError("range() arg 3 must not be zero");
  // Compute the length first so a huge range fails before allocating anything.
  long double span =
      step > 0 ? static_cast<long double>(stop) - start : static_cast<long double>(start) - stop;
  long double count = span <= 0 ? 0 : std::ceil(span / std::abs(static_cast<long double>(step)));
  renderer.count_iterations(static_cast<int64_t>(std::min<long double>(count, 9e18L)), args.line);
  std::vector<Value> items;
  items.reserve(static_cast<size_t>(count));
  int64_t value = start;
  for (int64_t i = 0; i < static_cast<int64_t>(count); ++i) {
    items.push_back(Value::integer(value));
    if (__builtin_add_overflow(value, step, &value)) break;
  }
  return Value::list(std::move(items));
}

// dict(mapping_or_pairs, **kwargs) and namespace(...) share the same argument handling.
void fill_from_args(Value& target, CallArgs& args, const char* name) {
  if (args.positional.size() > 1) {
    throw TemplateError(std::string(name) + " expected at most 1 positional argument");
  }
  if (!args.positional.empty()) {
    const Value& source = args.positional[0];
    if (source.is_undefined()) source.fail_undefined();
    if (source.is_mapping()) {
      for (const auto& [k, v] : source.dict_data().entries) target.dict_data().set(k, v);
    } else {
      for (const auto& pair : iterate(source)) {
        std::vector<Value> kv = iterate(pair);
        if (kv.size() != 2)
          throw TemplateError(std::string(name) + ": sequence elements must be pairs");
        target.dict_data().set(kv[0], kv[1]);
      }
    }
  }
  for (const auto& [key, value] : args.keyword) target.dict_data().set(Value::string(key), value);
}

void append_json_string(std::string& out, const std::string& s, bool ensure_ascii) {
  out += '"';
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else if (c >= 0x80 && ensure_ascii) {
          size_t len = (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
          if (i + len > s.size()) len = 1;
          uint32_t cp = len == 1 ? c : (c & (0x7F >> len));
          for (size_t k = 1; k < len; ++k) {
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
          }
          i += len - 1;
          char buf[16];
          if (cp >= 0x10000) {
            cp -= 0x10000;
            std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xD800 + (cp >> 10),
                          0xDC00 + (cp & 0x3FF));
          } else {
            std::snprintf(buf, sizeof buf, "\\u%04x", cp);
          }
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

std::string json_float(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return python_float_repr(d);
}

std::string json_key(const Value& key) {
  if (key.is_string()) return key.str();
  if (key.is_bool()) return key.as_bool() ? "true" : "false";
  if (key.is_none()) return "null";
  if (key.is_int()) return std::to_string(key.as_int());
  if (key.is_float()) return json_float(key.as_double());
  throw TemplateError("keys must be str, int, float, bool or None, not " + key.type_name());
}

void write_json(std::string& out, const Value& v, const JsonFormat& f, int depth) {
  if (depth > kMaxJsonDepth) throw TemplateError("value nesting too deep for tojson");
  auto newline = [&](int level) {
    if (!f.has_indent) return;
    out += '\n';
    for (int i = 0; i < level; ++i) out += f.indent;
  };
  switch (v.kind()) {
    case Value::Kind::kNone: out += "null"; return;
    case Value::Kind::kBool: out += v.as_bool() ? "true" : "false"; return;
    case Value::Kind::kInt: out += std::to_string(v.as_int()); return;
    case Value::Kind::kFloat: out += json_float(v.as_double()); return;
    case Value::Kind::kString: append_json_string(out, v.str(), f.ensure_ascii); return;
    case Value::Kind::kList: {
      if (v.is_iterator()) break;
      const auto& items = v.list_data().items;
      if (items.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += f.item_separator;
        newline(depth + 1);
        write_json(out, items[i], f, depth + 1);
      }
      newline(depth);
      out += ']';
      return;
    }
    case Value::Kind::kDict: {
      std::vector<std::pair<std::string, const Value*>> entries;
      for (const auto& [key, value] : v.dict_data().entries) {
        entries.emplace_back(json_key(key), &value);
      }
      if (f.sort_keys) {
        std::stable_sort(entries.begin(), entries.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
      }
      if (entries.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      for (size_t i = 0; i < entries.size(); ++i) {
        if (i) out += f.item_separator;
        newline(depth + 1);
        append_json_string(out, entries[i].first, f.ensure_ascii);
        out += f.key_separator;
        write_json(out, *entries[i].second, f, depth + 1);
      }
      newline(depth);
      out += '}';
      return;
    }
    default: break;
  }
  throw TemplateError("Object of type " + v.type_name() + " is not JSON serializable");
}

}  // namespace

void install_globals(Scope& globals) {
  add_function(globals, "range", make_range);
  add_function(globals, "dict", [](Renderer&, CallArgs& args) {
    Value d = Value::dict();
    fill_from_args(d, args, "dict");
    return d;
  });
  add_function(globals, "namespace", [](Renderer&, CallArgs& args) {
    Value ns = Value::make_namespace();
    fill_from_args(ns, args, "namespace");
    return ns;
  });
  add_function(globals, "raise_exception", [](Renderer&, CallArgs& args) -> Value {
    TemplateError error(args.positional.empty() ? "raise_exception() called"
                                                : to_str(args.positional[0]));
    error.from_template = true;
    throw error;
  });
  add_function(globals, "strftime_now", [](Renderer& renderer, CallArgs& args) {
    const Value* format = args.get(0, "format");
    if (!format || !format->is_string())
      throw TemplateError("strftime_now() expects a format string");
    if (format->str().empty()) return Value::string("");
    std::tm tm = renderer.now();
    std::string buf(format->str().size() * 4 + 64, '\0');
    size_t n = std::strftime(buf.data(), buf.size(), format->str().c_str(), &tm);
    if (n == 0) throw TemplateError("strftime_now(): format produced no output");
    buf.resize(n);
    return Value::string(buf);
  });
  add_function(globals, "joiner", [](Renderer&, CallArgs& args) {
    std::string sep = to_str(args.get_or(0, "sep", Value::string(", ")));
    auto used = std::make_shared<bool>(false);
    return Value::callable("joiner", [sep, used](Renderer&, CallArgs&) {
      if (!*used) {
        *used = true;
        return Value::string("");
      }
      return Value::string(sep);
    });
  });
}

Value from_json(const nlohmann::ordered_json& json, int depth) {
  if (depth > kMaxJsonDepth) throw TemplateError("input JSON nesting too deep");
  switch (json.type()) {
    case nlohmann::ordered_json::value_t::null: return Value::none();
    case nlohmann::ordered_json::value_t::boolean: return Value::boolean(json.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
      return Value::integer(json.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_unsigned: {
      uint64_t u = json.get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::number(static_cast<double>(u));
      return Value::integer(static_cast<int64_t>(u));
    }
    case nlohmann::ordered_json::value_t::number_float: return Value::number(json.get<double>());
    case nlohmann::ordered_json::value_t::string: return Value::string(json.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      std::vector<Value> items;
      items.reserve(json.size());
      for (const auto& item : json) items.push_back(from_json(item, depth + 1));
      return Value::list(std::move(items));
    }
    case nlohmann::ordered_json::value_t::object: {
      Value dict = Value::dict();
      auto& entries = dict.dict_data().entries;
      entries.reserve(json.size());
      for (const auto& [key, value] : json.items()) {
        entries.emplace_back(Value::string(key), from_json(value, depth + 1));
      }
      return dict;
    }
    default: throw TemplateError("unsupported JSON value in template context");
  }
}

std::string to_json(const Value& v, const JsonFormat& format) {
  std::string out;
  write_json(out, v, format, 0);
  return out;
}

}  // namespace hearth::chat
