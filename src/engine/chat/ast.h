// Syntax tree of a parsed template. Immutable after parsing, shared by concurrent renders.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "engine/chat/value.h"

namespace hearth::chat {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

enum class ExprKind {
  kLiteral,    // literal
  kName,       // name
  kList,       // args
  kTuple,      // args
  kDict,       // args: key0, value0, key1, value1, ...
  kAttr,       // args[0].name
  kSubscript,  // args[0][args[1]]
  kSlice,      // args[0][args[1]:args[2]:args[3]] (null parts allowed)
  kCall,       // args[0](args[1..]); the last kwarg_names.size() arguments are keywords
  kFilter,     // args[0]|name(args[1..]); args[0] is null inside {% filter %}
  kTest,       // args[0] is [not] name(args[1..])
  kNeg,        // -args[0]
  kPos,        // +args[0]
  kNot,        // not args[0]
  kBinary,     // args[0] op args[1]: + - * / // % ** ~
  kAnd,
  kOr,
  kCompare,    // args[0] ops[0] args[1] ops[1] args[2] ...
  kCondition,  // args[0] if args[1] else args[2] (args[2] may be null)
};

struct Expr {
  ExprKind kind;
  int line = 0;
  std::string name;  // identifier, attribute, filter/test name or binary operator
  Value literal;
  std::vector<ExprPtr> args;
  std::vector<std::string> kwarg_names;
  std::vector<std::string> ops;
  bool negated = false;  // `is not`
};

enum class StmtKind {
  kText,         // text
  kOutput,       // {{ expr }}
  kIf,           // branches
  kFor,          // targets in expr [if condition]: body [else else_body]
  kSet,          // targets (or targets[0].attr) = expr
  kSetBlock,     // targets[0] = rendered body (optionally piped through filter)
  kMacro,        // name(params = defaults): body
  kCallBlock,    // expr is the call; params/defaults are the caller's; body is caller()
  kFilterBlock,  // filter (kFilter chain with a null innermost input) applied to body
  kBreak,
  kContinue,
  kExprStmt,  // {% do expr %}
  kScope,     // plain body (e.g. {% generation %}) rendered in place
};

struct IfBranch {
  ExprPtr condition;  // null for else
  StmtList body;
};

struct Stmt {
  StmtKind kind;
  int line = 0;
  std::string text;
  std::string name;
  std::string attr;
  ExprPtr expr;
  ExprPtr condition;
  ExprPtr filter;
  std::vector<std::string> targets;
  std::vector<IfBranch> branches;
  StmtList body;
  StmtList else_body;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // same size as params; null where no default
  // Macros accept extra positional/keyword arguments only if their body reads these names.
  bool uses_varargs = false;
  bool uses_kwargs = false;
  bool uses_caller = false;
};

}  // namespace hearth::chat
