#include "engine/chat/value.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace hearth::chat {
namespace {

// Self-referencing containers (a list appended to itself) must not overflow the stack.
constexpr int kMaxNesting = 512;

void check_nesting(int depth) {
  if (depth > kMaxNesting) throw TemplateError("value nesting too deep to print or compare");
}

std::string repr_impl(const Value& v, int depth);

std::string string_repr(const std::string& s) {
  bool has_single = s.find('\'') != std::string::npos;
  bool has_double = s.find('"') != std::string::npos;
  char quote = (has_single && !has_double) ? '"' : '\'';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == quote) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
  return out;
}

std::string sequence_str(const ListData& data, int depth) {
  std::string out;
  bool tuple = data.flavor == ListData::Flavor::kTuple;
  out += tuple ? '(' : '[';
  for (size_t i = 0; i < data.items.size(); ++i) {
    if (i) out += ", ";
    out += repr_impl(data.items[i], depth + 1);
  }
  if (tuple && data.items.size() == 1) out += ',';
  out += tuple ? ')' : ']';
  return out;
}

std::string dict_str(const DictData& data, int depth) {
  std::string out = "{";
  for (size_t i = 0; i < data.entries.size(); ++i) {
    if (i) out += ", ";
    out += repr_impl(data.entries[i].first, depth + 1);
    out += ": ";
    out += repr_impl(data.entries[i].second, depth + 1);
  }
  out += '}';
  return out;
}

std::string str_impl(const Value& v, int depth) {
  check_nesting(depth);
  switch (v.kind()) {
    case Value::Kind::kUndefined: return "";
    case Value::Kind::kNone: return "None";
    case Value::Kind::kBool: return v.as_bool() ? "True" : "False";
    case Value::Kind::kInt: return std::to_string(v.as_int());
    case Value::Kind::kFloat: return python_float_repr(v.as_double());
    case Value::Kind::kString: return v.str();
    case Value::Kind::kList:
      if (v.is_iterator()) return "<" + v.list_data().iterator_type + " object>";
      return sequence_str(v.list_data(), depth);
    case Value::Kind::kDict: return dict_str(v.dict_data(), depth);
    case Value::Kind::kNamespace: return "<Namespace " + dict_str(v.dict_data(), depth) + ">";
    case Value::Kind::kCallable:
      if (v.callable_data().is_macro) return "<Macro '" + v.callable_data().name + "'>";
      return "<function " + v.callable_data().name + ">";
  }
  return "";
}

std::string repr_impl(const Value& v, int depth) {
  check_nesting(depth);
  if (v.is_string()) return string_repr(v.str());
  if (v.is_undefined()) return "Undefined";
  return str_impl(v, depth);
}

bool equal_impl(const Value& a, const Value& b, int depth) {
  check_nesting(depth);
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) return a.as_double() == b.as_double();
    return a.as_int() == b.as_int();
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone: return true;
    case Value::Kind::kString: return a.str() == b.str();
    case Value::Kind::kList: {
      const ListData& x = a.list_data();
      const ListData& y = b.list_data();
      if (&x == &y) return true;
      if (x.flavor != y.flavor || x.flavor == ListData::Flavor::kIterator) return false;
      if (x.items.size() != y.items.size()) return false;
      for (size_t i = 0; i < x.items.size(); ++i) {
        if (!equal_impl(x.items[i], y.items[i], depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kDict: {
      const DictData& x = a.dict_data();
      const DictData& y = b.dict_data();
      if (&x == &y) return true;
      if (x.entries.size() != y.entries.size()) return false;
      for (const auto& [key, value] : x.entries) {
        const Value* other = y.find(key);
        if (!other || !equal_impl(value, *other, depth + 1)) return false;
      }
      return true;
    }
    case Value::Kind::kNamespace: return &a.dict_data() == &b.dict_data();
    case Value::Kind::kCallable: return &a.callable_data() == &b.callable_data();
    default: return false;
  }
}

int compare_impl(const Value& a, const Value& b, std::string_view op, int depth) {
  check_nesting(depth);
  if (a.is_undefined()) a.fail_undefined();
  if (b.is_undefined()) b.fail_undefined();
  if (a.is_number() && b.is_number()) {
    if (a.is_float() || b.is_float()) {
      double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : (x > y ? 1 : 0);
    }
    int64_t x = a.as_int(), y = b.as_int();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) {
    int c = a.str().compare(b.str());  // byte order of UTF-8 is code point order
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (a.is_list() && b.is_list() && !a.is_iterator() && !b.is_iterator() &&
      a.is_tuple() == b.is_tuple()) {
    const auto& x = a.list_data().items;
    const auto& y = b.list_data().items;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
      if (!equal_impl(x[i], y[i], depth + 1)) return compare_impl(x[i], y[i], op, depth + 1);
    }
    return x.size() < y.size() ? -1 : (x.size() > y.size() ? 1 : 0);
  }
  throw TemplateError("'" + std::string(op) + "' not supported between instances of '" +
                      a.type_name() + "' and '" + b.type_name() + "'");
}

}  // namespace

Value Value::undefined(std::string hint) {
  Value v;
  v.str_ = std::move(hint);
  return v;
}
Value Value::none() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value Value::boolean(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.bool_ = b;
  return v;
}
Value Value::integer(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.int_ = i;
  return v;
}
Value Value::number(double d) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.float_ = d;
  return v;
}
Value Value::string(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.str_ = std::move(s);
  return v;
}
Value Value::markup(std::string s) {
  Value v = string(std::move(s));
  v.bool_ = true;
  return v;
}
Value Value::list(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<ListData>();
  v.list_->items = std::move(items);
  CycleBreaker::track(v.list_);
  return v;
}
namespace {
thread_local CycleBreaker* active_cycle_breaker = nullptr;
}  // namespace

CycleBreaker::CycleBreaker() : previous_(active_cycle_breaker) {
  active_cycle_breaker = this;
}

CycleBreaker::~CycleBreaker() {
  active_cycle_breaker = previous_;
  std::vector<Value> doomed;
  for (auto& weak : lists_) {
    if (auto list = weak.lock()) {
      for (auto& item : list->items) doomed.push_back(std::move(item));
      list->items.clear();
    }
  }
  for (auto& weak : dicts_) {
    if (auto dict = weak.lock()) {
      for (auto& [key, value] : dict->entries) {
        doomed.push_back(std::move(key));
        doomed.push_back(std::move(value));
      }
      dict->entries.clear();
    }
  }
}

template <class T>
void CycleBreaker::remember(std::vector<std::weak_ptr<T>>& registry, const std::shared_ptr<T>& p) {
  // Drop expired entries now and then so long renders do not grow the registry unboundedly.
  if (registry.size() >= 1024 && (registry.size() & (registry.size() - 1)) == 0) {
    std::erase_if(registry, [](const std::weak_ptr<T>& w) { return w.expired(); });
  }
  registry.push_back(p);
}

void CycleBreaker::track(const std::shared_ptr<ListData>& list) {
  if (active_cycle_breaker) remember(active_cycle_breaker->lists_, list);
}

void CycleBreaker::track(const std::shared_ptr<DictData>& dict) {
  if (active_cycle_breaker) remember(active_cycle_breaker->dicts_, dict);
}

Value Value::tuple(std::vector<Value> items) {
  Value v = list(std::move(items));
  v.list_->flavor = ListData::Flavor::kTuple;
  return v;
}
Value Value::iterator(std::vector<Value> items, std::string type_name) {
  Value v = list(std::move(items));
  v.list_->flavor = ListData::Flavor::kIterator;
  v.list_->iterator_type = std::move(type_name);
  return v;
}
Value Value::dict() {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<DictData>();
  return v;
}
Value Value::make_namespace() {
  Value v = dict();
  v.kind_ = Kind::kNamespace;
  CycleBreaker::track(v.dict_);
  return v;
}
Value Value::callable(std::string name, Function fn, bool is_macro) {
  Value v;
  v.kind_ = Kind::kCallable;
  v.callable_ = std::make_shared<Callable>(Callable{std::move(name), std::move(fn), is_macro});
  return v;
}

bool Value::is_tuple() const {
  return is_list() && list_->flavor == ListData::Flavor::kTuple;
}
bool Value::is_iterator() const {
  return is_list() && list_->flavor == ListData::Flavor::kIterator;
}

std::string Value::type_name() const {
  switch (kind_) {
    case Kind::kUndefined: return "Undefined";
    case Kind::kNone: return "NoneType";
    case Kind::kBool: return "bool";
    case Kind::kInt: return "int";
    case Kind::kFloat: return "float";
    case Kind::kString: return bool_ ? "Markup" : "str";
    case Kind::kList:
      if (list_->flavor == ListData::Flavor::kTuple) return "tuple";
      if (list_->flavor == ListData::Flavor::kIterator) return list_->iterator_type;
      return "list";
    case Kind::kDict: return "dict";
    case Kind::kNamespace: return "Namespace";
    case Kind::kCallable: return callable_->is_macro ? "Macro" : "function";
  }
  return "object";
}

bool Value::truthy() const {
  switch (kind_) {
    case Kind::kUndefined:
    case Kind::kNone: return false;
    case Kind::kBool: return bool_;
    case Kind::kInt: return int_ != 0;
    case Kind::kFloat: return float_ != 0.0;
    case Kind::kString: return !str_.empty();
    case Kind::kList: return list_->flavor == ListData::Flavor::kIterator || !list_->items.empty();
    case Kind::kDict: return !dict_->entries.empty();
    case Kind::kNamespace:
    case Kind::kCallable: return true;
  }
  return false;
}

void Value::fail_undefined(int line) const {
  throw TemplateError(str_.empty() ? "value is undefined" : str_, line);
}

void Value::release_children_into(std::vector<Value>& out) {
  if (list_ && list_.use_count() == 1) {
    for (auto& item : list_->items) out.push_back(std::move(item));
    list_->items.clear();
  }
  if (dict_ && dict_.use_count() == 1) {
    for (auto& [key, value] : dict_->entries) {
      out.push_back(std::move(key));
      out.push_back(std::move(value));
    }
    dict_->entries.clear();
  }
}

namespace {

void release_iteratively(std::vector<Value> pending) {
  while (!pending.empty()) {
    Value v = std::move(pending.back());
    pending.pop_back();
    v.release_children_into(pending);
  }
}

}  // namespace

ListData::~ListData() {
  if (!items.empty()) release_iteratively(std::move(items));
}

DictData::~DictData() {
  if (entries.empty()) return;
  std::vector<Value> pending;
  pending.reserve(entries.size() * 2);
  for (auto& [key, value] : entries) {
    pending.push_back(std::move(key));
    pending.push_back(std::move(value));
  }
  entries.clear();
  release_iteratively(std::move(pending));
}

const Value* DictData::find(const Value& key) const {
  for (const auto& entry : entries) {
    if (values_equal(entry.first, key)) return &entry.second;
  }
  return nullptr;
}

const Value* DictData::find(std::string_view key) const {
  for (const auto& entry : entries) {
    if (entry.first.is_string() && entry.first.str() == key) return &entry.second;
  }
  return nullptr;
}

void DictData::set(Value key, Value value) {
  for (auto& entry : entries) {
    if (values_equal(entry.first, key)) {
      entry.second = std::move(value);
      return;
    }
  }
  entries.emplace_back(std::move(key), std::move(value));
}

const Value* CallArgs::get(size_t index, std::string_view name) const {
  if (index < positional.size()) return &positional[index];
  for (const auto& [key, value] : keyword) {
    if (key == name) return &value;
  }
  return nullptr;
}

Value CallArgs::get_or(size_t index, std::string_view name, Value fallback) const {
  const Value* v = get(index, name);
  return v ? *v : std::move(fallback);
}

bool values_equal(const Value& a, const Value& b) {
  return equal_impl(a, b, 0);
}

int compare_values(const Value& a, const Value& b, std::string_view op) {
  return compare_impl(a, b, op, 0);
}

std::string to_str(const Value& v) {
  return str_impl(v, 0);
}
std::string to_repr(const Value& v) {
  return repr_impl(v, 0);
}

std::string python_float_repr(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d < 0 ? "-inf" : "inf";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits, then laid out the way Python's repr() does.
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  bool negative = sci[0] == '-';
  if (negative) sci.erase(0, 1);
  size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  int exponent = std::stoi(sci.substr(e_pos + 1));
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  std::string out;
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out = "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<size_t>(exponent + 1) >= digits.size()) {
      out = digits + std::string(static_cast<size_t>(exponent + 1) - digits.size(), '0') + ".0";
    } else {
      out = digits.substr(0, static_cast<size_t>(exponent + 1)) + "." +
            digits.substr(static_cast<size_t>(exponent + 1));
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    char exp_buf[16];
    std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+',
                  exponent < 0 ? -exponent : exponent);
    out += exp_buf;
  }
  return negative ? "-" + out : out;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::vector<std::string> utf8_chars(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    size_t j = i + 1;
    while (j < s.size() && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) ++j;
    out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

}  // namespace hearth::chat
