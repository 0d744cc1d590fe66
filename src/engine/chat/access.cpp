// Python's object protocol as Jinja2 exposes it: attribute and item lookup (with Jinja2's
// Undefined hints), slicing, iteration, membership and the str/dict/list methods templates call.
#include <algorithm>
#include <cctype>

#include "engine/chat/builtins.h"
#include "engine/chat/string_util.h"

namespace hearth::chat {
namespace {

// Jinja2's object_type_repr(): "dict object", "None", ...
std::string object_type(const Value& obj) {
  if (obj.is_none()) return "None";
  if (obj.is_namespace()) return "jinja2.utils.Namespace object";
  return obj.type_name() + " object";
}

Value missing_attribute(const Value& obj, const std::string& name) {
  return Value::undefined(to_repr(Value::string(object_type(obj))) + " has no attribute " +
                          to_repr(Value::string(name)));
}

Value missing_element(const Value& obj, const Value& key) {
  return Value::undefined(object_type(obj) + " has no element " + to_repr(key));
}

bool matches_affix(const Value& str, const Value& affix, bool prefix) {
  std::vector<Value> candidates =
      affix.is_tuple() ? affix.list_data().items : std::vector<Value>{affix};
  for (const auto& c : candidates) {
    if (!c.is_string()) {
      throw TemplateError(std::string(prefix ? "startswith" : "endswith") +
                          " first arg must be str or a tuple of str, not " + c.type_name());
    }
    const std::string& s = str.str();
    const std::string& a = c.str();
    if (a.size() <= s.size() && (prefix ? s.compare(0, a.size(), a) == 0
                                        : s.compare(s.size() - a.size(), a.size(), a) == 0)) {
      return true;
    }
  }
  return false;
}

std::string arg_string(const CallArgs& args, size_t index, const char* name, const char* method) {
  const Value* v = args.get(index, name);
  if (!v || !v->is_string()) {
    throw TemplateError(std::string(method) + "() argument must be str, not " +
                        (v ? v->type_name() : std::string("missing")));
  }
  return v->str();
}

// str.format() with {} / {0} / {name} fields (no format specs beyond those).
std::string python_format(const std::string& fmt, const CallArgs& args) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char c = fmt[i];
    if (c == '{' && i + 1 < fmt.size() && fmt[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < fmt.size() && fmt[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = fmt.find('}', i);
      if (close == std::string::npos)
        throw TemplateError("Single '{' encountered in format string");
      std::string field = fmt.substr(i + 1, close - i - 1);
      if (field.find(':') != std::string::npos || field.find('!') != std::string::npos) {
        throw TemplateError("format specifications are not supported in str.format()");
      }
      const Value* v = nullptr;
      if (field.empty()) {
        v = auto_index < args.positional.size() ? &args.positional[auto_index++] : nullptr;
      } else if (std::all_of(field.begin(), field.end(), ::isdigit)) {
        size_t idx = std::stoul(field);
        v = idx < args.positional.size() ? &args.positional[idx] : nullptr;
      } else {
        for (const auto& [key, value] : args.keyword) {
          if (key == field) v = &value;
        }
      }
      if (!v) throw TemplateError("Replacement index out of range in str.format()");
      out += to_str(*v);
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

Value string_method(const Value& self, const std::string& name, CallArgs& args) {
  const std::string& s = self.str();
  auto chars_arg = [&](size_t i) -> const Value* {
    const Value* v = args.get(i, "chars");
    return v && !v->is_none() ? v : nullptr;
  };
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const Value* chars = chars_arg(0);
    if (chars && !chars->is_string()) throw TemplateError(name + " arg must be None or str");
    bool left = name != "rstrip", right = name != "lstrip";
    return Value::string(chars ? strip_chars(s, chars->str(), left, right)
                               : strip_whitespace(s, left, right));
  }
  if (name == "upper") return Value::string(ascii_upper(s));
  if (name == "lower") return Value::string(ascii_lower(s));
  if (name == "title") return Value::string(python_title(s));
  if (name == "capitalize") return Value::string(capitalize(s));
  if (name == "startswith" || name == "endswith") {
    const Value* affix = args.get(0, "prefix");
    if (!affix) throw TemplateError(name + "() takes at least 1 argument (0 given)");
    return Value::boolean(matches_affix(self, *affix, name == "startswith"));
  }
  if (name == "split" || name == "rsplit") {
    const Value* sep = args.get(0, "sep");
    int64_t maxsplit = args.get_or(1, "maxsplit", Value::integer(-1)).as_int();
    std::vector<std::string> parts;
    if (!sep || sep->is_none()) {
      parts = split_whitespace(s, maxsplit, name == "rsplit");
    } else {
      if (!sep->is_string()) throw TemplateError("must be str or None, not " + sep->type_name());
      if (sep->str().empty()) throw TemplateError("empty separator");
      parts = split_on(s, sep->str(), maxsplit, name == "rsplit");
    }
    std::vector<Value> out;
    for (auto& p : parts) out.push_back(Value::string(std::move(p)));
    return Value::list(std::move(out));
  }
  if (name == "splitlines") {
    std::vector<Value> out;
    for (auto& p : split_lines(s)) out.push_back(Value::string(std::move(p)));
    return Value::list(std::move(out));
  }
  if (name == "replace") {
    std::string old_text = arg_string(args, 0, "old", "replace");
    std::string new_text = arg_string(args, 1, "new", "replace");
    int64_t count = args.get_or(2, "count", Value::integer(-1)).as_int();
    return Value::string(replace_all(s, old_text, new_text, count));
  }
  if (name == "find" || name == "rfind" || name == "index" || name == "rindex" || name == "count") {
    std::string sub = arg_string(args, 0, "sub", name.c_str());
    if (name == "count") return Value::integer(count_occurrences(s, sub));
    size_t pos = (name == "find" || name == "index") ? s.find(sub) : s.rfind(sub);
    if (pos == std::string::npos) {
      if (name == "index" || name == "rindex") throw TemplateError("substring not found");
      return Value::integer(-1);
    }
    return Value::integer(static_cast<int64_t>(utf8_length(std::string_view(s).substr(0, pos))));
  }
  if (name == "join") {
    const Value* items = args.get(0, "iterable");
    if (!items) throw TemplateError("join() takes exactly one argument (0 given)");
    std::string out;
    size_t i = 0;
    for (const auto& item : iterate(*items)) {
      if (!item.is_string()) {
        throw TemplateError("sequence item " + std::to_string(i) + ": expected str instance, " +
                            item.type_name() + " found");
      }
      if (i++) out += s;
      out += item.str();
    }
    return Value::string(std::move(out));
  }
  if (name == "format") return Value::string(python_format(s, args));
  if (name == "isdigit" || name == "isalpha" || name == "isalnum" || name == "isspace" ||
      name == "islower" || name == "isupper") {
    return Value::boolean(char_class_test(s, name));
  }
  throw TemplateError("'str' object has no attribute '" + name + "'");
}

Value dict_method(const Value& self, const std::string& name, CallArgs& args) {
  const DictData& d = self.dict_data();
  if (name == "items") {
    std::vector<Value> out;
    for (const auto& [key, value] : d.entries) out.push_back(Value::tuple({key, value}));
    return Value::list(std::move(out));
  }
  if (name == "keys" || name == "values") {
    std::vector<Value> out;
    for (const auto& [key, value] : d.entries) out.push_back(name == "keys" ? key : value);
    return Value::list(std::move(out));
  }
  if (name == "get") {
    const Value* key = args.get(0, "key");
    if (!key) throw TemplateError("get expected at least 1 argument, got 0");
    const Value* found = d.find(*key);
    return found ? *found : args.get_or(1, "default", Value::none());
  }
  throw TemplateError("'dict' object has no attribute '" + name + "'");
}

Value list_method(Renderer& renderer, const Value& self, const std::string& name, CallArgs& args) {
  auto& items = self.list_data().items;
  bool mutating = name == "append" || name == "extend" || name == "pop" || name == "insert";
  if (mutating && self.is_tuple()) {
    throw TemplateError("'tuple' object has no attribute '" + name + "'");
  }
  if (name == "append") {
    const Value* v = args.get(0, "object");
    if (!v) throw TemplateError("append() takes exactly one argument (0 given)");
    renderer.check_items(items.size() + 1, args.line);
    items.push_back(*v);
    return Value::none();
  }
  if (name == "extend") {
    const Value* v = args.get(0, "iterable");
    if (!v) throw TemplateError("extend() takes exactly one argument (0 given)");
    std::vector<Value> added = iterate(*v);
    renderer.check_items(items.size() + added.size(), args.line);
    for (auto& item : added) items.push_back(std::move(item));
    return Value::none();
  }
  if (name == "insert") {
    if (args.positional.size() != 2) throw TemplateError("insert expected 2 arguments");
    int64_t n = static_cast<int64_t>(items.size());
    int64_t at = to_index(args.positional[0], "insert");
    if (at < 0) at = std::max<int64_t>(0, at + n);
    at = std::min(at, n);
    items.insert(items.begin() + at, args.positional[1]);
    return Value::none();
  }
  if (name == "pop") {
    if (items.empty()) throw TemplateError("pop from empty list");
    int64_t n = static_cast<int64_t>(items.size());
    int64_t at = args.positional.empty() ? n - 1 : to_index(args.positional[0], "pop");
    if (at < 0) at += n;
    if (at < 0 || at >= n) throw TemplateError("pop index out of range");
    Value v = items[static_cast<size_t>(at)];
    items.erase(items.begin() + at);
    return v;
  }
  if (name == "index" || name == "count") {
    const Value* needle = args.get(0, "value");
    if (!needle) throw TemplateError(name + "() takes at least 1 argument (0 given)");
    int64_t count = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!values_equal(items[i], *needle)) continue;
      if (name == "index") return Value::integer(static_cast<int64_t>(i));
      ++count;
    }
    if (name == "index") throw TemplateError(to_repr(*needle) + " is not in list");
    return Value::integer(count);
  }
  throw TemplateError("'list' object has no attribute '" + name + "'");
}

bool has_method(const Value& obj, const std::string& name) {
  static const char* kStringMethods[] = {
      "strip",      "lstrip",   "rstrip",  "upper",   "lower",      "title",   "capitalize",
      "startswith", "endswith", "split",   "rsplit",  "splitlines", "replace", "find",
      "rfind",      "index",    "rindex",  "count",   "join",       "format",  "isdigit",
      "isalpha",    "isalnum",  "isspace", "islower", "isupper"};
  static const char* kDictMethods[] = {"items", "keys", "values", "get"};
  static const char* kListMethods[] = {"append", "extend", "insert", "pop", "index", "count"};
  auto in = [&](const auto& names) {
    return std::any_of(std::begin(names), std::end(names),
                       [&](const char* n) { return name == n; });
  };
  if (obj.is_string()) return in(kStringMethods);
  if (obj.is_dict()) return in(kDictMethods);
  if (obj.is_list() && !obj.is_iterator()) return in(kListMethods);
  return false;
}

Value bound_method(const Value& obj, const std::string& name) {
  return Value::callable(name, [obj, name](Renderer& renderer, CallArgs& args) -> Value {
    if (obj.is_string()) return string_method(obj, name, args);
    if (obj.is_dict()) return dict_method(obj, name, args);
    return list_method(renderer, obj, name, args);
  });
}

}  // namespace

int64_t to_index(const Value& v, const char* what) {
  if (v.is_int() || v.is_bool()) return v.as_int();
  throw TemplateError(std::string(what) + ": indices must be integers, not " + v.type_name());
}

Value get_attribute(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) obj.fail_undefined();
  if (has_method(obj, name)) return bound_method(obj, name);
  if (obj.is_mapping()) {
    if (const Value* v = obj.dict_data().find(std::string_view(name))) return *v;
  }
  return missing_attribute(obj, name);
}

Value get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) obj.fail_undefined();
  if (obj.is_dict()) {
    if (const Value* v = obj.dict_data().find(key)) return *v;
  } else if ((obj.is_list() && !obj.is_iterator()) || obj.is_string()) {
    if (key.is_int() || key.is_bool()) {
      int64_t n = obj.is_string() ? static_cast<int64_t>(utf8_length(obj.str()))
                                  : static_cast<int64_t>(obj.list_data().items.size());
      int64_t i = key.as_int();
      if (i < 0) i += n;
      if (i < 0 || i >= n) return missing_element(obj, key);
      if (obj.is_list()) return obj.list_data().items[static_cast<size_t>(i)];
      return Value::string(utf8_slice(obj.str(), i, i + 1, 1));
    }
  }
  if (key.is_string()) {
    if (has_method(obj, key.str())) return bound_method(obj, key.str());
    if (obj.is_namespace()) {
      if (const Value* v = obj.dict_data().find(key)) return *v;
    }
    return missing_attribute(obj, key.str());
  }
  return missing_element(obj, key);
}

Value slice_value(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  bool is_str = obj.is_string();
  if (!is_str && (!obj.is_list() || obj.is_iterator())) {
    // Jinja2 compiles slices to a plain Python subscript, so these raise (no Undefined).
    if (obj.is_dict()) throw TemplateError("unhashable type: 'slice'");
    throw TemplateError("'" + obj.type_name() + "' object is not subscriptable");
  }
  int64_t step_n = step.is_none() ? 1 : to_index(step, "slice");
  if (step_n == 0) throw TemplateError("slice step cannot be zero");
  std::vector<std::string> chars;
  if (is_str) chars = utf8_chars(obj.str());
  int64_t n = is_str ? static_cast<int64_t>(chars.size())
                     : static_cast<int64_t>(obj.list_data().items.size());
  auto clamp = [&](const Value& v, int64_t fallback) {
    if (v.is_none()) return fallback;
    int64_t i = to_index(v, "slice");
    if (i < 0) i += n;
    int64_t lower = step_n > 0 ? 0 : -1;
    int64_t upper = step_n > 0 ? n : n - 1;
    return std::clamp(i, lower, upper);
  };
  int64_t begin = clamp(start, step_n > 0 ? 0 : n - 1);
  int64_t end = clamp(stop, step_n > 0 ? n : -1);
  std::string out_str;
  std::vector<Value> out_items;
  for (int64_t i = begin; step_n > 0 ? i < end : i > end;) {
    if (is_str) {
      out_str += chars[static_cast<size_t>(i)];
    } else {
      out_items.push_back(obj.list_data().items[static_cast<size_t>(i)]);
    }
    if (__builtin_add_overflow(i, step_n, &i)) break;  // a huge step leaves the range
  }
  if (is_str) return Value::string(std::move(out_str));
  return obj.is_tuple() ? Value::tuple(std::move(out_items)) : Value::list(std::move(out_items));
}

std::vector<Value> iterate(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return {};
    case Value::Kind::kList: return v.list_data().items;
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      std::vector<Value> keys;
      for (const auto& entry : v.dict_data().entries) keys.push_back(entry.first);
      return keys;
    }
    case Value::Kind::kString: {
      std::vector<Value> out;
      for (auto& c : utf8_chars(v.str())) out.push_back(Value::string(std::move(c)));
      return out;
    }
    default: throw TemplateError("'" + v.type_name() + "' object is not iterable");
  }
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case Value::Kind::kUndefined: return false;
    case Value::Kind::kString:
      if (!item.is_string()) {
        throw TemplateError("'in <string>' requires string as left operand, not " +
                            item.type_name());
      }
      return container.str().find(item.str()) != std::string::npos;
    case Value::Kind::kList:
      for (const auto& x : container.list_data().items) {
        if (values_equal(x, item)) return true;
      }
      return false;
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: return container.dict_data().find(item) != nullptr;
    default:
      throw TemplateError("argument of type '" + container.type_name() + "' is not iterable");
  }
}

}  // namespace hearth::chat
