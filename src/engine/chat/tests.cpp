// Jinja2's built-in tests (`x is defined`, `x is divisibleby 3`, ...).
#include <cmath>
#include <unordered_map>

#include "engine/chat/builtins.h"
#include "engine/chat/string_util.h"

namespace hearth::chat {
namespace {

using TestFn = bool (*)(Renderer&, const Value&, CallArgs&);

bool t_defined(Renderer&, const Value& v, CallArgs&) {
  return !v.is_undefined();
}
bool t_undefined(Renderer&, const Value& v, CallArgs&) {
  return v.is_undefined();
}
bool t_none(Renderer&, const Value& v, CallArgs&) {
  return v.is_none();
}
bool t_boolean(Renderer&, const Value& v, CallArgs&) {
  return v.is_bool();
}
bool t_true(Renderer&, const Value& v, CallArgs&) {
  return v.is_bool() && v.as_bool();
}
bool t_false(Renderer&, const Value& v, CallArgs&) {
  return v.is_bool() && !v.as_bool();
}
bool t_integer(Renderer&, const Value& v, CallArgs&) {
  return v.is_int();
}
bool t_float(Renderer&, const Value& v, CallArgs&) {
  return v.is_float();
}
bool t_number(Renderer&, const Value& v, CallArgs&) {
  return v.is_number();
}
bool t_string(Renderer&, const Value& v, CallArgs&) {
  return v.is_string();
}
bool t_mapping(Renderer&, const Value& v, CallArgs&) {
  return v.is_dict();
}
bool t_callable(Renderer&, const Value& v, CallArgs&) {
  return v.is_callable();
}
bool t_escaped(Renderer&, const Value&, CallArgs&) {
  return false;
}
bool t_iterable(Renderer&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_string() || v.is_list() || v.is_dict();
}
bool t_sequence(Renderer&, const Value& v, CallArgs&) {
  return v.is_undefined() || v.is_string() || (v.is_list() && !v.is_iterator()) || v.is_dict();
}

const Value& test_arg(const CallArgs& args, const char* test) {
  const Value* v = args.get(0, "other");
  if (!v) v = args.get(0, "value");
  if (!v) v = args.get(0, "seq");
  if (!v) v = args.get(0, "num");
  if (!v) throw TemplateError(std::string("test '") + test + "' needs an argument");
  return *v;
}

bool t_eq(Renderer&, const Value& v, CallArgs& a) {
  return values_equal(v, test_arg(a, "eq"));
}
bool t_ne(Renderer&, const Value& v, CallArgs& a) {
  return !values_equal(v, test_arg(a, "ne"));
}
bool t_lt(Renderer&, const Value& v, CallArgs& a) {
  return compare_values(v, test_arg(a, "lt"), "<") < 0;
}
bool t_le(Renderer&, const Value& v, CallArgs& a) {
  return compare_values(v, test_arg(a, "le"), "<=") <= 0;
}
bool t_gt(Renderer&, const Value& v, CallArgs& a) {
  return compare_values(v, test_arg(a, "gt"), ">") > 0;
}
bool t_ge(Renderer&, const Value& v, CallArgs& a) {
  return compare_values(v, test_arg(a, "ge"), ">=") >= 0;
}
bool t_in(Renderer&, const Value& v, CallArgs& a) {
  return contains(test_arg(a, "in"), v);
}
bool t_sameas(Renderer&, const Value& v, CallArgs& a) {
  const Value& other = test_arg(a, "sameas");
  if (v.is_list() && other.is_list()) return &v.list_data() == &other.list_data();
  if (v.is_mapping() && other.is_mapping()) return &v.dict_data() == &other.dict_data();
  if (v.is_callable() && other.is_callable()) return &v.callable_data() == &other.callable_data();
  // Python's `is` on equal small scalars is true in practice (interning); mirror that.
  return v.kind() == other.kind() && !v.is_list() && !v.is_mapping() && values_equal(v, other);
}

int64_t integer_operand(const Value& v, const char* test) {
  if (v.is_undefined()) v.fail_undefined();
  if (!v.is_number() || v.is_float()) {
    if (v.is_float() && v.as_double() == std::floor(v.as_double())) {
      return static_cast<int64_t>(v.as_double());
    }
    throw TemplateError(std::string("test '") + test + "' needs an integer, got " + v.type_name());
  }
  return v.as_int();
}

bool t_odd(Renderer&, const Value& v, CallArgs&) {
  return integer_operand(v, "odd") % 2 != 0;
}
bool t_even(Renderer&, const Value& v, CallArgs&) {
  return integer_operand(v, "even") % 2 == 0;
}
bool t_divisibleby(Renderer&, const Value& v, CallArgs& a) {
  int64_t n = integer_operand(test_arg(a, "divisibleby"), "divisibleby");
  if (n == 0) throw TemplateError("integer division or modulo by zero");
  return integer_operand(v, "divisibleby") % n == 0;
}
bool t_lower(Renderer&, const Value& v, CallArgs&) {
  return char_class_test(to_str(v), "islower");
}
bool t_upper(Renderer&, const Value& v, CallArgs&) {
  return char_class_test(to_str(v), "isupper");
}

const std::unordered_map<std::string, TestFn>& test_table() {
  static const std::unordered_map<std::string, TestFn> table = {
      {"defined", t_defined},
      {"undefined", t_undefined},
      {"none", t_none},
      {"boolean", t_boolean},
      {"true", t_true},
      {"false", t_false},
      {"integer", t_integer},
      {"float", t_float},
      {"number", t_number},
      {"string", t_string},
      {"mapping", t_mapping},
      {"iterable", t_iterable},
      {"sequence", t_sequence},
      {"callable", t_callable},
      {"escaped", t_escaped},
      {"eq", t_eq},
      {"equalto", t_eq},
      {"==", t_eq},
      {"ne", t_ne},
      {"!=", t_ne},
      {"lt", t_lt},
      {"lessthan", t_lt},
      {"<", t_lt},
      {"le", t_le},
      {"<=", t_le},
      {"gt", t_gt},
      {"greaterthan", t_gt},
      {">", t_gt},
      {"ge", t_ge},
      {">=", t_ge},
      {"in", t_in},
      {"sameas", t_sameas},
      {"odd", t_odd},
      {"even", t_even},
      {"divisibleby", t_divisibleby},
      {"lower", t_lower},
      {"upper", t_upper},
  };
  return table;
}

}  // namespace

bool is_known_test(const std::string& name) {
  return test_table().count(name) > 0;
}

bool apply_test(Renderer& renderer, const std::string& name, const Value& input, CallArgs& args) {
  const auto& table = test_table();
  auto it = table.find(name);
  if (it == table.end()) throw TemplateError("No test named '" + name + "' found.", args.line);
  return it->second(renderer, input, args);
}

}  // namespace hearth::chat
