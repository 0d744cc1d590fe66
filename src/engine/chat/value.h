// Runtime values of the Jinja engine, modelled on the Python objects Jinja2 works with.
//
// Lists, dicts and namespaces are reference types (shared), like Python's, so that
// `ns.items.append(x)` or `set b = a` followed by a mutation behave as templates expect.
// Strings are UTF-8; lengths, indexing and slicing count code points as Python does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hearth::chat {

// Raised inside the engine for any template error; converted to hearth::Error at the API edge.
class TemplateError : public std::runtime_error {
 public:
  explicit TemplateError(const std::string& message, int line = 0)
      : std::runtime_error(message), line_(line) {}
  int line() const { return line_; }
  // raise_exception() messages are the template author's words and are reported verbatim.
  bool from_template = false;

 private:
  int line_;
};

class Value;
struct ListData;
struct DictData;
struct CallArgs;
class Renderer;

using Function = std::function<Value(Renderer&, CallArgs&)>;

struct Callable {
  std::string name;
  Function fn;
  bool is_macro = false;
};

class Value {
 public:
  enum class Kind {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,  // also tuples and one-shot iterators (see ListData::flavor)
    kDict,
    kNamespace,  // dict storage with attribute assignment allowed
    kCallable,
  };

  Value() = default;  // undefined
  static Value undefined(std::string hint = {});
  static Value none();
  static Value boolean(bool b);
  static Value integer(int64_t i);
  static Value number(double d);
  static Value string(std::string s);
  // A Markup string (from |safe or |escape): concatenating plain text to it HTML-escapes that
  // text, as Jinja2's Markup does even with autoescape off.
  static Value markup(std::string s);
  static Value list(std::vector<Value> items = {});
  static Value tuple(std::vector<Value> items);
  // A lazily produced sequence in Jinja2 (map, select, ...): iterable but without len() and not
  // JSON serializable. `type_name` is the Python type reported in errors.
  static Value iterator(std::vector<Value> items, std::string type_name = "generator");
  static Value dict();
  static Value make_namespace();
  static Value callable(std::string name, Function fn, bool is_macro = false);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_markup() const { return kind_ == Kind::kString && bool_; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_tuple() const;
  bool is_iterator() const;
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_mapping() const { return is_dict() || is_namespace(); }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return bool_; }  // for kBool; for kString it marks Markup
  int64_t as_int() const { return is_bool() ? (bool_ ? 1 : 0) : int_; }
  double as_double() const { return is_float() ? float_ : static_cast<double>(as_int()); }
  const std::string& str() const { return str_; }             // string contents
  const std::string& undefined_hint() const { return str_; }  // why it is undefined
  ListData& list_data() const { return *list_; }
  DictData& dict_data() const { return *dict_; }
  const Callable& callable_data() const { return *callable_; }

  // Python type name, as used in error messages ("str", "dict", "NoneType", ...).
  std::string type_name() const;
  bool truthy() const;
  // Throws the undefined hint as an error; used wherever Jinja2's Undefined refuses an operation.
  [[noreturn]] void fail_undefined(int line = 0) const;
  // If this is the last reference to a list or dict, moves its elements into `out` so that
  // deeply nested values can be freed iteratively instead of by recursive destructors.
  void release_children_into(std::vector<Value>& out);

 private:
  Kind kind_ = Kind::kUndefined;
  bool bool_ = false;
  int64_t int_ = 0;
  double float_ = 0.0;
  std::string str_;
  std::shared_ptr<ListData> list_;
  std::shared_ptr<DictData> dict_;
  std::shared_ptr<Callable> callable_;
};

struct ListData {
  ~ListData();
  enum class Flavor { kList, kTuple, kIterator };
  std::vector<Value> items;
  Flavor flavor = Flavor::kList;
  std::string iterator_type;  // for kIterator
};

// Insertion-ordered mapping (Python dicts keep insertion order, and so must tojson).
struct DictData {
  ~DictData();
  std::vector<std::pair<Value, Value>> entries;
  const Value* find(const Value& key) const;
  const Value* find(std::string_view key) const;
  void set(Value key, Value value);
};

// Python collects reference cycles; shared_ptr does not. While a CycleBreaker lives on a
// thread it records every mutable container created there (lists, namespaces: the only values a
// template can make refer to themselves), and on destruction it empties those still alive, so
// `{% do l.append(l) %}` cannot leak past the render.
class CycleBreaker {
 public:
  CycleBreaker();
  ~CycleBreaker();
  CycleBreaker(const CycleBreaker&) = delete;
  CycleBreaker& operator=(const CycleBreaker&) = delete;

  static void track(const std::shared_ptr<ListData>& list);
  static void track(const std::shared_ptr<DictData>& dict);

 private:
  template <class T>
  static void remember(std::vector<std::weak_ptr<T>>& registry, const std::shared_ptr<T>& p);

  std::vector<std::weak_ptr<ListData>> lists_;
  std::vector<std::weak_ptr<DictData>> dicts_;
  CycleBreaker* previous_;
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  int line = 0;

  // Python-style binding: positional index first, else keyword; returns undefined when absent.
  const Value* get(size_t index, std::string_view name) const;
  Value get_or(size_t index, std::string_view name, Value fallback) const;
};

// Python semantics: ==, str(), repr(), ordering.
bool values_equal(const Value& a, const Value& b);
// Returns <0, 0, >0; throws TemplateError when Python would raise TypeError.
int compare_values(const Value& a, const Value& b, std::string_view op);
std::string to_str(const Value& v);   // str(v); undefined -> ""
std::string to_repr(const Value& v);  // repr(v)
std::string python_float_repr(double d);

// UTF-8 helpers: code point counting, splitting, slicing by code point.
size_t utf8_length(std::string_view s);
std::vector<std::string> utf8_chars(std::string_view s);

}  // namespace hearth::chat
