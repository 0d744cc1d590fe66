// Jinja2's built-in filters, with Hugging Face's tojson in place of Jinja2's.
#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "engine/chat/builtins.h"
#include "engine/chat/string_util.h"

namespace hearth::chat {
namespace {

using FilterFn = Value (*)(Renderer&, const Value&, CallArgs&);

bool arg_bool(const CallArgs& args, size_t index, const char* name, bool fallback) {
  const Value* v = args.get(index, name);
  return v ? v->truthy() : fallback;
}

Value str_value(const Value& v) {
  return Value::string(to_str(v));
}

// Jinja2's make_attrgetter: "a.b.0" walks items (then attributes), digits become indices.
Value get_path(const Value& item, const std::string& path) {
  Value current = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool digits = !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit);
    Value key = digits ? Value::integer(std::stoll(part)) : Value::string(part);
    current = get_item(current, key);
    if (dot == std::string::npos) return current;
    start = dot + 1;
  }
}

size_t length_of(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined: return 0;
    case Value::Kind::kString: return utf8_length(v.str());
    case Value::Kind::kList:
      if (!v.is_iterator()) return v.list_data().items.size();
      break;
    case Value::Kind::kDict: return v.dict_data().entries.size();
    default: break;
  }
  throw TemplateError("object of type '" + v.type_name() + "' has no len()");
}

// Sort key used by sort/unique/min/max: strings compare case-insensitively unless asked.
Value sort_key(const Value& item, const CallArgs& args, size_t attr_index, bool case_sensitive) {
  Value key = item;
  if (const Value* attr = args.get(attr_index, "attribute"); attr && !attr->is_none()) {
    key = get_path(item, to_str(*attr));
  }
  if (!case_sensitive && key.is_string()) return Value::string(ascii_lower(key.str()));
  return key;
}

Value f_tojson(Renderer&, const Value& v, CallArgs& args) {
  // Hugging Face: json.dumps(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False)
  JsonFormat format;
  format.ensure_ascii = arg_bool(args, 0, "ensure_ascii", false);
  if (const Value* indent = args.get(1, "indent"); indent && !indent->is_none()) {
    format.has_indent = true;
    if (indent->is_string()) {
      format.indent = indent->str();
    } else {
      format.indent = std::string(static_cast<size_t>(std::max<int64_t>(0, indent->as_int())), ' ');
    }
    format.item_separator = ",";
  }
  if (const Value* sep = args.get(2, "separators"); sep && !sep->is_none()) {
    std::vector<Value> parts = iterate(*sep);
    if (parts.size() != 2) throw TemplateError("tojson: separators must be a pair of strings");
    format.item_separator = to_str(parts[0]);
    format.key_separator = to_str(parts[1]);
  }
  format.sort_keys = arg_bool(args, 3, "sort_keys", false);
  return Value::string(to_json(v, format));
}

Value f_trim(Renderer&, const Value& v, CallArgs& args) {
  const Value* chars = args.get(0, "chars");
  std::string s = to_str(v);
  if (chars && !chars->is_none()) return Value::string(strip_chars(s, to_str(*chars), true, true));
  return Value::string(strip_whitespace(s, true, true));
}

Value f_items(Renderer&, const Value& v, CallArgs&) {
  if (v.is_undefined()) return Value::iterator({});
  if (!v.is_dict()) throw TemplateError("Can only get item pairs from a mapping.");
  std::vector<Value> out;
  for (const auto& [key, value] : v.dict_data().entries) out.push_back(Value::tuple({key, value}));
  return Value::iterator(std::move(out));
}

Value f_length(Renderer&, const Value& v, CallArgs&) {
  return Value::integer(static_cast<int64_t>(length_of(v)));
}

Value f_upper(Renderer&, const Value& v, CallArgs&) {
  return Value::string(ascii_upper(to_str(v)));
}
Value f_lower(Renderer&, const Value& v, CallArgs&) {
  return Value::string(ascii_lower(to_str(v)));
}
Value f_capitalize(Renderer&, const Value& v, CallArgs&) {
  return Value::string(capitalize(to_str(v)));
}
Value f_title(Renderer&, const Value& v, CallArgs&) {
  return Value::string(jinja_title(to_str(v)));
}

Value f_replace(Renderer& r, const Value& v, CallArgs& args) {
  if (args.positional.size() + args.keyword.size() < 2) {
    throw TemplateError("replace filter needs the old and new strings");
  }
  const Value* count = args.get(2, "count");
  std::string out = replace_all(to_str(v), to_str(args.get_or(0, "old", Value())),
                                to_str(args.get_or(1, "new", Value())),
                                count && !count->is_none() ? count->as_int() : -1);
  r.check_size(out.size(), args.line);
  return Value::string(std::move(out));
}

Value f_join(Renderer& r, const Value& v, CallArgs& args) {
  std::string sep = to_str(args.get_or(0, "d", Value::string("")));
  const Value* attr = args.get(1, "attribute");
  std::string out;
  bool first = true;
  for (const auto& item : iterate(v)) {
    if (!first) out += sep;
    first = false;
    out += to_str(attr && !attr->is_none() ? get_path(item, to_str(*attr)) : item);
    r.check_size(out.size(), args.line);
  }
  return Value::string(std::move(out));
}

Value f_first(Renderer&, const Value& v, CallArgs&) {
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No first item, sequence was empty.");
  return items.front();
}

Value f_last(Renderer&, const Value& v, CallArgs&) {
  if (v.is_iterator()) throw TemplateError("'" + v.type_name() + "' object is not reversible");
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No last item, sequence was empty.");
  return items.back();
}

Value f_default(Renderer&, const Value& v, CallArgs& args) {
  bool boolean = arg_bool(args, 1, "boolean", false);
  if (v.is_undefined() || (boolean && !v.truthy())) {
    return args.get_or(0, "default_value", Value::string(""));
  }
  return v;
}

Value f_list(Renderer&, const Value& v, CallArgs&) {
  return Value::list(iterate(v));
}
Value f_string(Renderer&, const Value& v, CallArgs&) {
  return v.is_string() ? v : str_value(v);
}
Value f_safe(Renderer&, const Value& v, CallArgs&) {
  return Value::markup(to_str(v));
}
Value f_escape(Renderer&, const Value& v, CallArgs&) {
  return v.is_markup() ? v : Value::markup(html_escape(to_str(v)));
}
Value f_forceescape(Renderer&, const Value& v, CallArgs&) {
  return Value::markup(html_escape(to_str(v)));
}

Value f_int(Renderer&, const Value& v, CallArgs& args) {
  Value fallback = args.get_or(0, "default", Value::integer(0));
  int64_t base = args.get_or(1, "base", Value::integer(10)).as_int();
  if (v.is_int() || v.is_bool()) return Value::integer(v.as_int());
  if (v.is_float()) {
    double d = v.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return fallback;
    return Value::integer(static_cast<int64_t>(d));
  }
  if (v.is_string()) {
    std::string s = strip_whitespace(v.str(), true, true);
    std::string digits;
    for (char c : s) {
      if (c != '_') digits += c;
    }
    if (!digits.empty()) {
      char* end = nullptr;
      errno = 0;
      long long n = std::strtoll(digits.c_str(), &end, static_cast<int>(base));
      if (errno == 0 && end && *end == '\0') return Value::integer(n);
      // Like Jinja2, fall back to float parsing ("3.7" -> 3).
      double d = std::strtod(digits.c_str(), &end);
      if (end && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) {
        return Value::integer(static_cast<int64_t>(d));
      }
    }
  }
  return fallback;
}

Value f_float(Renderer&, const Value& v, CallArgs& args) {
  Value fallback = args.get_or(0, "default", Value::number(0.0));
  if (v.is_number()) return Value::number(v.as_double());
  if (v.is_string()) {
    std::string s = strip_whitespace(v.str(), true, true);
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value::number(d);
  }
  return fallback;
}

Value f_abs(Renderer&, const Value& v, CallArgs&) {
  if (v.is_undefined()) v.fail_undefined();
  if (v.is_float()) return Value::number(std::fabs(v.as_double()));
  if (v.is_number()) {
    if (v.as_int() == INT64_MIN) throw TemplateError("integer overflow");
    return Value::integer(std::llabs(v.as_int()));
  }
  throw TemplateError("bad operand type for abs(): '" + v.type_name() + "'");
}

Value f_round(Renderer&, const Value& v, CallArgs& args) {
  if (v.is_undefined()) v.fail_undefined();
  if (!v.is_number()) throw TemplateError("type " + v.type_name() + " doesn't define __round__");
  int64_t precision = args.get_or(0, "precision", Value::integer(0)).as_int();
  std::string method = to_str(args.get_or(1, "method", Value::string("common")));
  if (v.is_int() || v.is_bool()) {
    if (method == "common") return Value::integer(v.as_int());
    return Value::number(v.as_double());
  }
  double scale = std::pow(10.0, static_cast<double>(precision));
  double x = v.as_double() * scale;
  double r;
  if (method == "common") {
    r = std::nearbyint(x);  // round half to even, like Python's round()
  } else if (method == "ceil") {
    r = std::ceil(x);
  } else if (method == "floor") {
    r = std::floor(x);
  } else {
    throw TemplateError("method must be common, ceil or floor");
  }
  return Value::number(r / scale);
}

Value f_reverse(Renderer&, const Value& v, CallArgs&) {
  if (v.is_string()) {
    auto chars = utf8_chars(v.str());
    std::string out;
    for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += *it;
    return Value::string(std::move(out));
  }
  std::vector<Value> items = iterate(v);
  std::reverse(items.begin(), items.end());
  return Value::iterator(std::move(items), "list_reverseiterator");
}

Value f_map(Renderer& r, const Value& v, CallArgs& args) {
  std::vector<Value> out;
  if (!v.truthy()) return Value::iterator({});  // Jinja2 guards with `if seq:`
  const Value* attribute = nullptr;
  for (const auto& [key, value] : args.keyword) {
    if (key == "attribute") attribute = &value;
  }
  if (attribute) {
    Value fallback;
    bool has_default = false;
    for (const auto& [key, value] : args.keyword) {
      if (key == "default") {
        fallback = value;
        has_default = true;
      }
    }
    for (const auto& item : iterate(v)) {
      Value x = get_path(item, to_str(*attribute));
      out.push_back(x.is_undefined() && has_default ? fallback : x);
    }
    return Value::iterator(std::move(out));
  }
  if (args.positional.empty()) throw TemplateError("map requires a filter name or attribute=");
  std::string filter = to_str(args.positional[0]);
  CallArgs rest;
  rest.line = args.line;
  rest.positional.assign(args.positional.begin() + 1, args.positional.end());
  rest.keyword = args.keyword;
  for (const auto& item : iterate(v)) {
    CallArgs call = rest;
    out.push_back(apply_filter(r, filter, item, call));
  }
  return Value::iterator(std::move(out));
}

// select/reject/selectattr/rejectattr share this: `attr` picks the tested value, `expected`
// is what the test must return for the item to be kept.
Value select_items(Renderer& r, const Value& v, CallArgs& args, bool by_attr, bool expected) {
  size_t first = 0;
  std::string attr;
  if (by_attr) {
    if (args.positional.empty()) throw TemplateError("missing attribute for selectattr/rejectattr");
    attr = to_str(args.positional[0]);
    first = 1;
  }
  std::string test;
  CallArgs test_args;
  test_args.line = args.line;
  if (args.positional.size() > first) {
    test = to_str(args.positional[first]);
    test_args.positional.assign(args.positional.begin() + static_cast<long>(first) + 1,
                                args.positional.end());
    test_args.keyword = args.keyword;
  }
  std::vector<Value> out;
  if (!v.truthy()) return Value::iterator({});  // Jinja2 guards with `if seq:`
  for (const auto& item : iterate(v)) {
    Value subject = by_attr ? get_path(item, attr) : item;
    bool passed;
    if (test.empty()) {
      passed = subject.truthy();
    } else {
      CallArgs call = test_args;
      passed = apply_test(r, test, subject, call);
    }
    if (passed == expected) out.push_back(item);
  }
  return Value::iterator(std::move(out));
}

Value f_select(Renderer& r, const Value& v, CallArgs& a) {
  return select_items(r, v, a, false, true);
}
Value f_reject(Renderer& r, const Value& v, CallArgs& a) {
  return select_items(r, v, a, false, false);
}
Value f_selectattr(Renderer& r, const Value& v, CallArgs& a) {
  return select_items(r, v, a, true, true);
}
Value f_rejectattr(Renderer& r, const Value& v, CallArgs& a) {
  return select_items(r, v, a, true, false);
}

Value f_unique(Renderer&, const Value& v, CallArgs& args) {
  bool case_sensitive = arg_bool(args, 0, "case_sensitive", false);
  std::vector<Value> seen, out;
  for (const auto& item : iterate(v)) {
    Value key = sort_key(item, args, 1, case_sensitive);
    bool duplicate =
        std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return values_equal(s, key); });
    if (!duplicate) {
      seen.push_back(key);
      out.push_back(item);
    }
  }
  return Value::iterator(std::move(out));
}

Value f_sort(Renderer&, const Value& v, CallArgs& args) {
  bool reverse = arg_bool(args, 0, "reverse", false);
  bool case_sensitive = arg_bool(args, 1, "case_sensitive", false);
  std::vector<Value> items = iterate(v);
  std::vector<std::pair<Value, Value>> keyed;
  for (auto& item : items) keyed.emplace_back(sort_key(item, args, 2, case_sensitive), item);
  std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    return reverse ? compare_values(b.first, a.first, "<") < 0
                   : compare_values(a.first, b.first, "<") < 0;
  });
  std::vector<Value> out;
  for (auto& [key, item] : keyed) out.push_back(std::move(item));
  return Value::list(std::move(out));
}

Value min_max(const Value& v, CallArgs& args, bool want_max) {
  bool case_sensitive = arg_bool(args, 0, "case_sensitive", false);
  std::vector<Value> items = iterate(v);
  if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
  size_t best = 0;
  for (size_t i = 1; i < items.size(); ++i) {
    int c = compare_values(sort_key(items[i], args, 1, case_sensitive),
                           sort_key(items[best], args, 1, case_sensitive), "<");
    if (want_max ? c > 0 : c < 0) best = i;
  }
  return items[best];
}
Value f_min(Renderer&, const Value& v, CallArgs& args) {
  return min_max(v, args, false);
}
Value f_max(Renderer&, const Value& v, CallArgs& args) {
  return min_max(v, args, true);
}

Value f_sum(Renderer&, const Value& v, CallArgs& args) {
  const Value* attr = args.get(0, "attribute");
  Value total = args.get_or(1, "start", Value::integer(0));
  for (const auto& item : iterate(v)) {
    Value x = attr && !attr->is_none() ? get_path(item, to_str(*attr)) : item;
    if (!x.is_number() || !total.is_number()) {
      throw TemplateError("unsupported operand type(s) for +: '" + total.type_name() + "' and '" +
                          x.type_name() + "'");
    }
    if (x.is_float() || total.is_float()) {
      total = Value::number(total.as_double() + x.as_double());
    } else {
      int64_t sum;
      if (__builtin_add_overflow(total.as_int(), x.as_int(), &sum)) {
        throw TemplateError("integer overflow");
      }
      total = Value::integer(sum);
    }
  }
  return total;
}

Value f_indent(Renderer& r, const Value& v, CallArgs& args) {
  Value width = args.get_or(0, "width", Value::integer(4));
  std::string indentation =
      width.is_string()
          ? width.str()
          : std::string(static_cast<size_t>(std::max<int64_t>(0, width.as_int())), ' ');
  bool first = arg_bool(args, 1, "first", false);
  bool blank = arg_bool(args, 2, "blank", false);
  if (v.is_undefined()) v.fail_undefined();
  if (!v.is_string()) {  // Jinja2 appends "\n" to its input, which only strings allow
    throw TemplateError("unsupported operand type(s) for +=: '" + v.type_name() + "' and 'str'");
  }
  std::vector<std::string> lines = split_lines(to_str(v) + "\n");
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) {
      out += '\n';
      if (blank || !lines[i].empty()) out += indentation;
    }
    out += lines[i];
    r.check_size(out.size(), args.line);
  }
  if (first) out = indentation + out;
  return Value::string(std::move(out));
}

Value f_wordcount(Renderer&, const Value& v, CallArgs&) {
  int64_t words = 0;
  bool in_word = false;
  for (char c : to_str(v)) {
    unsigned char u = static_cast<unsigned char>(c);
    bool word_char = std::isalnum(u) || c == '_' || u >= 0x80;
    if (word_char && !in_word) ++words;
    in_word = word_char;
  }
  return Value::integer(words);
}

Value f_center(Renderer& r, const Value& v, CallArgs& args) {
  std::string s = to_str(v);
  int64_t width = args.get_or(0, "width", Value::integer(80)).as_int();
  int64_t len = static_cast<int64_t>(utf8_length(s));
  if (width <= len) return Value::string(s);
  r.check_size(static_cast<size_t>(width), args.line);
  int64_t total = width - len;
  int64_t left = total / 2 + (total & width & 1);
  return Value::string(std::string(static_cast<size_t>(left), ' ') + s +
                       std::string(static_cast<size_t>(total - left), ' '));
}

Value f_batch(Renderer&, const Value& v, CallArgs& args) {
  int64_t size = args.get_or(0, "linecount", Value::integer(1)).as_int();
  if (size <= 0) throw TemplateError("batch size must be positive");
  const Value* fill = args.get(1, "fill_with");
  std::vector<Value> out, current;
  for (const auto& item : iterate(v)) {
    current.push_back(item);
    if (static_cast<int64_t>(current.size()) == size) {
      out.push_back(Value::list(std::move(current)));
      current.clear();
    }
  }
  if (!current.empty()) {
    if (fill && !fill->is_none()) {
      while (static_cast<int64_t>(current.size()) < size) current.push_back(*fill);
    }
    out.push_back(Value::list(std::move(current)));
  }
  return Value::iterator(std::move(out));
}

Value f_dictsort(Renderer&, const Value& v, CallArgs& args) {
  if (!v.is_dict()) throw TemplateError("dictsort expects a mapping");
  bool case_sensitive = arg_bool(args, 0, "case_sensitive", false);
  bool by_value = to_str(args.get_or(1, "by", Value::string("key"))) == "value";
  bool reverse = arg_bool(args, 2, "reverse", false);
  std::vector<Value> pairs;
  for (const auto& [key, value] : v.dict_data().entries)
    pairs.push_back(Value::tuple({key, value}));
  auto key_of = [&](const Value& pair) {
    Value k = pair.list_data().items[by_value ? 1 : 0];
    return !case_sensitive && k.is_string() ? Value::string(ascii_lower(k.str())) : k;
  };
  std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
    int c = compare_values(key_of(a), key_of(b), "<");
    return reverse ? c > 0 : c < 0;
  });
  return Value::list(std::move(pairs));
}

Value f_attr(Renderer&, const Value& v, CallArgs& args) {
  // Only Python attributes, not items: a dict's keys are not attributes.
  std::string name = to_str(args.get_or(0, "name", Value()));
  if (v.is_mapping() && !v.is_namespace()) {
    Value method = get_attribute(v, name);
    if (method.is_callable()) return method;
    return Value::undefined("'dict object' has no attribute '" + name + "'");
  }
  return get_attribute(v, name);
}

Value f_format(Renderer&, const Value& v, CallArgs& args) {
  std::vector<Value> values = args.positional;
  return Value::string(percent_format(to_str(v), Value::tuple(std::move(values))));
}

const std::unordered_map<std::string, FilterFn>& filter_table() {
  static const std::unordered_map<std::string, FilterFn> table = {
      {"tojson", f_tojson},
      {"trim", f_trim},
      {"items", f_items},
      {"length", f_length},
      {"count", f_length},
      {"upper", f_upper},
      {"lower", f_lower},
      {"capitalize", f_capitalize},
      {"title", f_title},
      {"replace", f_replace},
      {"join", f_join},
      {"first", f_first},
      {"last", f_last},
      {"default", f_default},
      {"d", f_default},
      {"list", f_list},
      {"string", f_string},
      {"int", f_int},
      {"float", f_float},
      {"abs", f_abs},
      {"round", f_round},
      {"map", f_map},
      {"select", f_select},
      {"reject", f_reject},
      {"selectattr", f_selectattr},
      {"rejectattr", f_rejectattr},
      {"unique", f_unique},
      {"sort", f_sort},
      {"reverse", f_reverse},
      {"safe", f_safe},
      {"escape", f_escape},
      {"e", f_escape},
      {"forceescape", f_forceescape},
      {"indent", f_indent},
      {"wordcount", f_wordcount},
      {"center", f_center},
      {"batch", f_batch},
      {"dictsort", f_dictsort},
      {"attr", f_attr},
      {"format", f_format},
      {"min", f_min},
      {"max", f_max},
      {"sum", f_sum},
  };
  return table;
}

}  // namespace

bool is_known_filter(const std::string& name) {
  return filter_table().count(name) > 0;
}

Value apply_filter(Renderer& renderer, const std::string& name, const Value& input,
                   CallArgs& args) {
  const auto& table = filter_table();
  auto it = table.find(name);
  if (it == table.end()) throw TemplateError("No filter named '" + name + "' found.", args.line);
  return it->second(renderer, input, args);
}

}  // namespace hearth::chat
