#include "engine/chat/renderer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "engine/chat/builtins.h"
#include "engine/chat/string_util.h"

namespace hearth::chat {
namespace {

std::string quoted(const std::string& name) {
  return to_repr(Value::string(name));
}

// Python ints do not overflow; ours are 64-bit, so overflow is reported instead of wrapping.
template <class Op>
int64_t checked(Op op, int64_t a, int64_t b, int line) {
  int64_t result;
  if (op(a, b, &result)) throw TemplateError("integer overflow", line);
  return result;
}
bool add_op(int64_t a, int64_t b, int64_t* r) {
  return __builtin_add_overflow(a, b, r);
}
bool sub_op(int64_t a, int64_t b, int64_t* r) {
  return __builtin_sub_overflow(a, b, r);
}
bool mul_op(int64_t a, int64_t b, int64_t* r) {
  return __builtin_mul_overflow(a, b, r);
}

int64_t floor_div(int64_t a, int64_t b, int line) {
  if (b == 0) throw TemplateError("integer division or modulo by zero", line);
  if (a == std::numeric_limits<int64_t>::min() && b == -1) throw TemplateError("integer overflow");
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_mod(int64_t a, int64_t b, int line) {
  if (b == 0) throw TemplateError("integer division or modulo by zero", line);
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

// Enough for the deepest legitimate nesting (macro recursion at max_depth) while keeping the
// stack well under a megabyte or two per render.
constexpr int kMaxNativeDepth = 3000;
// Lists are charged this many bytes per element against max_output_bytes.
constexpr size_t kBytesPerItem = 32;

size_t repeat_size(int64_t count, size_t unit) {
  size_t total;
  if (__builtin_mul_overflow(static_cast<size_t>(count), unit, &total)) return SIZE_MAX;
  return total;
}

}  // namespace

const Value* Scope::find(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

Renderer::Renderer(const TemplateOptions& options)
    : options_(options), globals_(std::make_shared<Scope>(nullptr)) {
  install_globals(*globals_);
}

std::string Renderer::render(const StmtList& program, const Value& context) {
  root_ = std::make_shared<Scope>(globals_);
  if (context.is_dict()) {
    for (const auto& [key, value] : context.dict_data().entries) {
      if (key.is_string()) root_->vars[key.str()] = value;
    }
  }
  std::string out;
  exec_list(program, root_, out);
  // Frames can be referenced from values they hold (macros); drop them explicitly.
  root_->vars.clear();
  root_.reset();
  return out;
}

void Renderer::count_iterations(int64_t n, int line) {
  iterations_ += n;
  if (iterations_ > options_.max_iterations) {
    throw TemplateError(
        "template exceeded the iteration limit (" + std::to_string(options_.max_iterations) + ")",
        line);
  }
}

void Renderer::check_size(size_t n, int line) {
  if (n > options_.max_output_bytes) {
    throw TemplateError("template output exceeded the size limit (" +
                            std::to_string(options_.max_output_bytes) + " bytes)",
                        line);
  }
}

void Renderer::check_items(size_t n, int line) {
  if (n > options_.max_output_bytes / kBytesPerItem) {
    throw TemplateError("template built a list beyond the size limit (" +
                            std::to_string(options_.max_output_bytes / kBytesPerItem) +
                            " elements)",
                        line);
  }
}

Renderer::NativeDepth::NativeDepth(Renderer& r, int line) : r_(r) {
  if (++r_.native_depth_ > kMaxNativeDepth) {
    --r_.native_depth_;
    throw TemplateError("template evaluation nested too deeply", line);
  }
}

std::tm Renderer::now() const {
  if (options_.clock) {
    // Fill in weekday/day-of-year from the date so a clock may set only y/m/d (h:m:s).
    std::tm tm = options_.clock();
    std::tm normalized = tm;
    if (timegm(&normalized) != static_cast<std::time_t>(-1)) tm = normalized;
    return tm;
  }
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  return tm;
}

void Renderer::append(std::string& out, std::string_view text, int line) {
  check_size(out.size() + text.size(), line);
  out += text;
}

Renderer::Flow Renderer::exec_list(const StmtList& list, const ScopePtr& scope, std::string& out) {
  for (const auto& stmt : list) {
    Flow flow = exec(*stmt, scope, out);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Renderer::Flow Renderer::exec(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
  NativeDepth guard(*this, stmt.line);
  try {
    switch (stmt.kind) {
      case StmtKind::kText: append(out, stmt.text, stmt.line); break;
      case StmtKind::kOutput: append(out, to_str(eval(*stmt.expr, scope)), stmt.line); break;
      case StmtKind::kIf:
        for (const auto& branch : stmt.branches) {
          if (!branch.condition || eval(*branch.condition, scope).truthy()) {
            return exec_list(branch.body, scope, out);
          }
        }
        break;
      case StmtKind::kFor: exec_for(stmt, scope, out); break;
      case StmtKind::kSet: exec_set(stmt, scope); break;
      case StmtKind::kSetBlock: {
        std::string captured;
        Flow flow = exec_list(stmt.body, scope, captured);
        Value value = Value::string(std::move(captured));
        if (stmt.filter) value = apply_filter_chain(*stmt.filter, value, scope);
        scope->vars[stmt.targets[0]] = value;
        return flow;
      }
      case StmtKind::kMacro: scope->vars[stmt.name] = make_macro(stmt, scope); break;
      case StmtKind::kCallBlock: {
        const Expr& call_expr = *stmt.expr;
        Value callee = eval(*call_expr.args[0], scope);
        CallArgs args = eval_args(call_expr, 1, scope);
        std::weak_ptr<Scope> closure = scope;
        const Stmt* caller_stmt = &stmt;
        args.keyword.emplace_back(
            "caller", Value::callable(
                          "caller",
                          [this, caller_stmt, closure](Renderer&, CallArgs& caller_args) {
                            return call_macro(*caller_stmt, closure, caller_args);
                          },
                          true));
        append(out, to_str(call(callee, args, stmt.line)), stmt.line);
        break;
      }
      case StmtKind::kFilterBlock: {
        std::string captured;
        Flow flow = exec_list(stmt.body, scope, captured);
        append(out, to_str(apply_filter_chain(*stmt.filter, Value::string(captured), scope)),
               stmt.line);
        return flow;
      }
      case StmtKind::kBreak: return Flow::kBreak;
      case StmtKind::kContinue: return Flow::kContinue;
      case StmtKind::kExprStmt: eval(*stmt.expr, scope); break;
      case StmtKind::kScope: return exec_list(stmt.body, scope, out);
    }
  } catch (TemplateError& e) {
    if (e.line() == 0 && !e.from_template) {
      TemplateError located(e.what(), stmt.line);
      throw located;
    }
    throw;
  }
  return Flow::kNormal;
}

void Renderer::assign_targets(const std::vector<std::string>& targets, const Value& value,
                              Scope& scope, int line) {
  if (targets.size() == 1) {
    scope.vars[targets[0]] = value;
    return;
  }
  std::vector<Value> items = iterate(value);
  if (items.size() != targets.size()) {
    throw TemplateError(
        items.size() > targets.size()
            ? "too many values to unpack (expected " + std::to_string(targets.size()) + ")"
            : "not enough values to unpack (expected " + std::to_string(targets.size()) + ", got " +
                  std::to_string(items.size()) + ")",
        line);
  }
  for (size_t i = 0; i < targets.size(); ++i) scope.vars[targets[i]] = items[i];
}

void Renderer::exec_for(const Stmt& stmt, const ScopePtr& scope, std::string& out) {
  Value iterable = eval(*stmt.expr, scope);
  if (!iterable.is_undefined() && !iterable.is_list() && !iterable.is_mapping() &&
      !iterable.is_string()) {
    throw TemplateError("'" + iterable.type_name() + "' object is not iterable", stmt.line);
  }
  std::vector<Value> items = iterate(iterable);
  if (stmt.condition) {
    auto filter_scope = std::make_shared<Scope>(scope);
    std::vector<Value> kept;
    for (auto& item : items) {
      count_iterations(1, stmt.line);
      assign_targets(stmt.targets, item, *filter_scope, stmt.line);
      if (eval(*stmt.condition, filter_scope).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  const int64_t length = static_cast<int64_t>(items.size());
  // loop.changed(*values) compares with the values of its previous call in this loop.
  auto last_changed = std::make_shared<std::optional<std::vector<Value>>>();
  for (int64_t i = 0; i < length; ++i) {
    count_iterations(1, stmt.line);
    // Jinja2 gives each iteration a fresh frame: a `set` in the body does not carry over to
    // the next iteration (templates use namespace() for that).
    auto loop_scope = std::make_shared<Scope>(scope);
    assign_targets(stmt.targets, items[static_cast<size_t>(i)], *loop_scope, stmt.line);
    Value loop = Value::dict();
    DictData& d = loop.dict_data();
    d.set(Value::string("index"), Value::integer(i + 1));
    d.set(Value::string("index0"), Value::integer(i));
    d.set(Value::string("revindex"), Value::integer(length - i));
    d.set(Value::string("revindex0"), Value::integer(length - i - 1));
    d.set(Value::string("first"), Value::boolean(i == 0));
    d.set(Value::string("last"), Value::boolean(i == length - 1));
    d.set(Value::string("length"), Value::integer(length));
    d.set(Value::string("depth"), Value::integer(1));
    d.set(Value::string("depth0"), Value::integer(0));
    d.set(Value::string("previtem"), i > 0 ? items[static_cast<size_t>(i - 1)]
                                           : Value::undefined("there is no previous item"));
    d.set(Value::string("nextitem"), i + 1 < length ? items[static_cast<size_t>(i + 1)]
                                                    : Value::undefined("there is no next item"));
    d.set(Value::string("cycle"), Value::callable("cycle", [i](Renderer&, CallArgs& args) -> Value {
            if (args.positional.empty()) throw TemplateError("no items for cycling given");
            return args.positional[static_cast<size_t>(i) % args.positional.size()];
          }));
    d.set(Value::string("changed"),
          Value::callable("changed", [last_changed](Renderer&, CallArgs& args) -> Value {
            const std::vector<Value>& now = args.positional;
            bool same =
                last_changed->has_value() && (*last_changed)->size() == now.size() &&
                std::equal(now.begin(), now.end(), (*last_changed)->begin(),
                           [](const Value& a, const Value& b) { return values_equal(a, b); });
            *last_changed = now;
            return Value::boolean(!same);
          }));
    loop_scope->vars["loop"] = loop;
    if (exec_list(stmt.body, loop_scope, out) == Flow::kBreak) break;
  }
  if (length == 0 && !stmt.else_body.empty()) exec_list(stmt.else_body, scope, out);
}

void Renderer::exec_set(const Stmt& stmt, const ScopePtr& scope) {
  Value value = eval(*stmt.expr, scope);
  if (!stmt.attr.empty()) {
    const Value* target = scope->find(stmt.targets[0]);
    if (!target || !target->is_namespace()) {
      throw TemplateError("cannot assign attribute on non-namespace object", stmt.line);
    }
    target->dict_data().set(Value::string(stmt.attr), std::move(value));
    return;
  }
  assign_targets(stmt.targets, value, *scope, stmt.line);
}

Value Renderer::make_macro(const Stmt& stmt, const ScopePtr& scope) {
  // A weak closure: the frame owns the macro, so a strong one would leak the frame.
  std::weak_ptr<Scope> closure = scope;
  const Stmt* macro = &stmt;
  return Value::callable(
      stmt.name,
      [this, macro, closure](Renderer&, CallArgs& args) {
        return call_macro(*macro, closure, args);
      },
      true);
}

Value Renderer::call_macro(const Stmt& stmt, const std::weak_ptr<Scope>& closure, CallArgs& args) {
  if (depth_ >= options_.max_depth) {
    throw TemplateError(
        "maximum recursion depth exceeded (" + std::to_string(options_.max_depth) + ")", args.line);
  }
  count_iterations(1, args.line);
  ScopePtr parent = closure.lock();
  auto scope = std::make_shared<Scope>(parent ? parent : root_);
  std::vector<Value> varargs;
  for (size_t i = 0; i < args.positional.size(); ++i) {
    if (i < stmt.params.size()) {
      scope->vars[stmt.params[i]] = args.positional[i];
    } else {
      varargs.push_back(args.positional[i]);
    }
  }
  if (!varargs.empty() && !stmt.uses_varargs) {
    throw TemplateError("macro '" + stmt.name + "' takes not more than " +
                            std::to_string(stmt.params.size()) + " argument(s)",
                        args.line);
  }
  Value kwargs = Value::dict();
  for (const auto& [key, value] : args.keyword) {
    bool is_param = false;
    for (size_t i = 0; i < stmt.params.size(); ++i) {
      if (stmt.params[i] != key) continue;
      if (i < args.positional.size()) {
        throw TemplateError(
            "macro '" + stmt.name + "' got multiple values for argument '" + key + "'", args.line);
      }
      is_param = true;
    }
    if (is_param || key == "caller") {
      scope->vars[key] = value;
    } else if (!stmt.uses_kwargs) {
      throw TemplateError("macro '" + stmt.name + "' takes no keyword argument '" + key + "'",
                          args.line);
    } else {
      kwargs.dict_data().set(Value::string(key), value);
    }
  }
  for (size_t i = 0; i < stmt.params.size(); ++i) {
    if (scope->vars.count(stmt.params[i])) continue;
    scope->vars[stmt.params[i]] =
        stmt.defaults[i]
            ? eval(*stmt.defaults[i], scope)
            : Value::undefined("parameter " + quoted(stmt.params[i]) + " was not provided");
  }
  scope->vars["varargs"] = Value::tuple(std::move(varargs));
  scope->vars["kwargs"] = kwargs;
  std::string out;
  ++depth_;
  try {
    exec_list(stmt.body, scope, out);
  } catch (...) {
    --depth_;
    throw;
  }
  --depth_;
  return Value::string(std::move(out));
}

Value Renderer::call(const Value& callee, CallArgs& args, int line) {
  if (callee.is_undefined()) callee.fail_undefined(line);
  if (!callee.is_callable()) {
    throw TemplateError("'" + callee.type_name() + "' object is not callable", line);
  }
  args.line = line;
  return callee.callable_data().fn(*this, args);
}

CallArgs Renderer::eval_args(const Expr& expr, size_t first, const ScopePtr& scope) {
  CallArgs args;
  args.line = expr.line;
  size_t keyword_start = expr.args.size() - expr.kwarg_names.size();
  for (size_t i = first; i < expr.args.size(); ++i) {
    Value v = eval(*expr.args[i], scope);
    if (i < keyword_start) {
      args.positional.push_back(std::move(v));
    } else {
      args.keyword.emplace_back(expr.kwarg_names[i - keyword_start], std::move(v));
    }
  }
  return args;
}

Value Renderer::apply_filter_chain(const Expr& filter, const Value& input, const ScopePtr& scope) {
  Value inner = filter.args[0] ? apply_filter_chain(*filter.args[0], input, scope) : input;
  CallArgs args = eval_args(filter, 1, scope);
  return apply_filter(*this, filter.name, inner, args);
}

Value Renderer::lookup(const std::string& name, const ScopePtr& scope) const {
  if (const Value* v = scope->find(name)) return *v;
  return Value::undefined(quoted(name) + " is undefined");
}

// eval() recurses once per expression level, so it keeps its own frame small and leaves the
// cases that need many temporaries to out-of-line helpers.
Value Renderer::eval(const Expr& expr, const ScopePtr& scope) {
  NativeDepth guard(*this, expr.line);
  switch (expr.kind) {
    case ExprKind::kLiteral: return expr.literal;
    case ExprKind::kName: return lookup(expr.name, scope);
    case ExprKind::kList:
    case ExprKind::kTuple:
    case ExprKind::kDict: return eval_container(expr, scope);
    case ExprKind::kAttr:
    case ExprKind::kSubscript:
    case ExprKind::kSlice: return eval_access(expr, scope);
    case ExprKind::kCall:
    case ExprKind::kFilter:
    case ExprKind::kTest: return eval_call(expr, scope);
    case ExprKind::kNeg:
    case ExprKind::kPos: return eval_unary(expr, scope);
    case ExprKind::kNot: return Value::boolean(!eval(*expr.args[0], scope).truthy());
    case ExprKind::kAnd:
    case ExprKind::kOr: {
      Value left = eval(*expr.args[0], scope);
      if (left.truthy() == (expr.kind == ExprKind::kOr)) return left;
      return eval(*expr.args[1], scope);
    }
    case ExprKind::kBinary: return eval_binary_expr(expr, scope);
    case ExprKind::kCompare: return eval_compare(expr, scope);
    case ExprKind::kCondition:
      if (eval(*expr.args[1], scope).truthy()) return eval(*expr.args[0], scope);
      if (expr.args[2]) return eval(*expr.args[2], scope);
      return Value::undefined("the inline if-expression on line " + std::to_string(expr.line) +
                              " evaluated to false and no else section was defined.");
  }
  return Value();
}

Value Renderer::eval_container(const Expr& expr, const ScopePtr& scope) {
  if (expr.kind == ExprKind::kDict) {
    Value dict = Value::dict();
    for (size_t i = 0; i + 1 < expr.args.size(); i += 2) {
      Value key = eval(*expr.args[i], scope);
      if (key.is_list() && !key.is_tuple()) throw TemplateError("unhashable type: 'list'");
      if (key.is_mapping()) throw TemplateError("unhashable type: 'dict'");
      dict.dict_data().set(std::move(key), eval(*expr.args[i + 1], scope));
    }
    return dict;
  }
  std::vector<Value> items;
  for (const auto& arg : expr.args) items.push_back(eval(*arg, scope));
  return expr.kind == ExprKind::kList ? Value::list(std::move(items))
                                      : Value::tuple(std::move(items));
}

Value Renderer::eval_access(const Expr& expr, const ScopePtr& scope) {
  Value obj = eval(*expr.args[0], scope);
  if (obj.is_undefined()) obj.fail_undefined(expr.line);
  if (expr.kind == ExprKind::kAttr) return get_attribute(obj, expr.name);
  if (expr.kind == ExprKind::kSubscript) return get_item(obj, eval(*expr.args[1], scope));
  Value parts[3];
  for (int i = 0; i < 3; ++i) {
    parts[i] = expr.args[i + 1] ? eval(*expr.args[i + 1], scope) : Value::none();
  }
  return slice_value(obj, parts[0], parts[1], parts[2]);
}

Value Renderer::eval_call(const Expr& expr, const ScopePtr& scope) {
  Value target = eval(*expr.args[0], scope);
  CallArgs args = eval_args(expr, 1, scope);
  if (expr.kind == ExprKind::kCall) return call(target, args, expr.line);
  if (expr.kind == ExprKind::kFilter) return apply_filter(*this, expr.name, target, args);
  bool result = apply_test(*this, expr.name, target, args);
  return Value::boolean(result != expr.negated);
}

Value Renderer::eval_unary(const Expr& expr, const ScopePtr& scope) {
  Value v = eval(*expr.args[0], scope);
  if (v.is_undefined()) v.fail_undefined(expr.line);
  if (!v.is_number()) {
    throw TemplateError(std::string("bad operand type for unary ") +
                            (expr.kind == ExprKind::kNeg ? "-" : "+") + ": '" + v.type_name() + "'",
                        expr.line);
  }
  if (expr.kind == ExprKind::kPos) return v.is_bool() ? Value::integer(v.as_int()) : v;
  if (v.is_float()) return Value::number(-v.as_double());
  return Value::integer(checked(sub_op, 0, v.as_int(), expr.line));
}

Value Renderer::eval_binary_expr(const Expr& expr, const ScopePtr& scope) {
  Value left = eval(*expr.args[0], scope);
  Value right = eval(*expr.args[1], scope);
  return eval_binary(expr.name, left, right, expr.line);
}

Value Renderer::eval_compare(const Expr& expr, const ScopePtr& scope) {
  Value left = eval(*expr.args[0], scope);
  for (size_t i = 0; i < expr.ops.size(); ++i) {
    Value right = eval(*expr.args[i + 1], scope);
    const std::string& op = expr.ops[i];
    bool result;
    try {
      if (op == "==") {
        result = values_equal(left, right);
      } else if (op == "!=") {
        result = !values_equal(left, right);
      } else if (op == "in") {
        result = contains(right, left);
      } else if (op == "not in") {
        result = !contains(right, left);
      } else {
        int c = compare_values(left, right, op);
        result = op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0;
      }
    } catch (TemplateError& e) {
      if (e.line() == 0) throw TemplateError(e.what(), expr.line);
      throw;
    }
    if (!result) return Value::boolean(false);
    left = std::move(right);
  }
  return Value::boolean(true);
}

Value Renderer::eval_binary(const std::string& op, const Value& left, const Value& right,
                            int line) {
  if (op == "~") {
    std::string s = to_str(left);
    std::string r = to_str(right);
    check_size(s.size() + r.size(), line);
    return Value::string(s + r);
  }
  if (left.is_undefined()) left.fail_undefined(line);
  if (right.is_undefined()) right.fail_undefined(line);
  auto unsupported = [&]() -> TemplateError {
    return TemplateError("unsupported operand type(s) for " + (op == "**" ? "** or pow()" : op) +
                             ": '" + left.type_name() + "' and '" + right.type_name() + "'",
                         line);
  };
  if (left.is_number() && right.is_number()) {
    bool as_float = left.is_float() || right.is_float();
    double x = left.as_double(), y = right.as_double();
    int64_t a = left.as_int(), b = right.as_int();
    if (op == "+") {
      return as_float ? Value::number(x + y) : Value::integer(checked(add_op, a, b, line));
    }
    if (op == "-") {
      return as_float ? Value::number(x - y) : Value::integer(checked(sub_op, a, b, line));
    }
    if (op == "*") {
      return as_float ? Value::number(x * y) : Value::integer(checked(mul_op, a, b, line));
    }
    if (op == "/") {
      if (y == 0) throw TemplateError("division by zero", line);
      return Value::number(x / y);
    }
    if (op == "//") {
      if (!as_float) return Value::integer(floor_div(a, b, line));
      if (y == 0) throw TemplateError("float floor division by zero", line);
      return Value::number(std::floor(x / y));
    }
    if (op == "%") {
      if (!as_float) return Value::integer(floor_mod(a, b, line));
      if (y == 0) throw TemplateError("float modulo", line);
      double m = std::fmod(x, y);
      if (m != 0 && ((m < 0) != (y < 0))) m += y;
      return Value::number(m);
    }
    if (op == "**") {
      if (!as_float && b >= 0) {
        int64_t result = 1;
        for (int64_t i = 0; i < b; ++i) {
          if (__builtin_mul_overflow(result, a, &result)) throw TemplateError("integer overflow");
          if (result == 0 || result == 1) break;
        }
        if (a == -1) result = (b % 2 == 0) ? 1 : -1;
        return Value::integer(result);
      }
      return Value::number(std::pow(x, y));
    }
    throw unsupported();
  }
  if (op == "+") {
    if (left.is_string() && right.is_string() && (left.is_markup() || right.is_markup())) {
      std::string a = left.is_markup() ? left.str() : html_escape(left.str());
      std::string b = right.is_markup() ? right.str() : html_escape(right.str());
      check_size(a.size() + b.size(), line);
      return Value::markup(a + b);
    }
    if (left.is_string()) {
      if (!right.is_string()) {
        throw TemplateError("can only concatenate str (not \"" + right.type_name() + "\") to str",
                            line);
      }
      check_size(left.str().size() + right.str().size(), line);
      return Value::string(left.str() + right.str());
    }
    if (left.is_list() && !left.is_iterator()) {
      if (!right.is_list() || right.is_tuple() != left.is_tuple() || right.is_iterator()) {
        throw TemplateError("can only concatenate " + left.type_name() + " (not \"" +
                                right.type_name() + "\") to " + left.type_name(),
                            line);
      }
      std::vector<Value> items = left.list_data().items;
      check_items(items.size() + right.list_data().items.size(), line);
      items.insert(items.end(), right.list_data().items.begin(), right.list_data().items.end());
      return left.is_tuple() ? Value::tuple(std::move(items)) : Value::list(std::move(items));
    }
    throw unsupported();
  }
  if (op == "*") {
    const Value* seq = (left.is_string() || (left.is_list() && !left.is_iterator()))      ? &left
                       : (right.is_string() || (right.is_list() && !right.is_iterator())) ? &right
                                                                                          : nullptr;
    const Value* count = seq == &left ? &right : &left;
    if (seq && !count->is_int() && !count->is_bool() && !count->is_list()) {
      throw TemplateError("can't multiply sequence by non-int of type '" + count->type_name() + "'",
                          line);
    }
    if (!seq || !count->is_number()) throw unsupported();
    int64_t n = std::max<int64_t>(0, count->as_int());
    if (seq->is_string()) {
      check_size(repeat_size(n, seq->str().size()), line);
      if (n > 0 && !seq->str().empty()) count_iterations(n, line);
      std::string out;
      for (int64_t i = 0; i < n; ++i) out += seq->str();
      return seq->is_markup() ? Value::markup(std::move(out)) : Value::string(std::move(out));
    }
    const auto& items = seq->list_data().items;
    check_items(repeat_size(n, items.size()), line);
    std::vector<Value> out;
    for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
    return seq->is_tuple() ? Value::tuple(std::move(out)) : Value::list(std::move(out));
  }
  if (op == "%" && left.is_string()) return Value::string(percent_format(left.str(), right));
  throw unsupported();
}

}  // namespace hearth::chat
