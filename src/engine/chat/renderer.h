// Tree-walking interpreter: executes statements, evaluates expressions, enforces the sandbox
// limits. One Renderer per render() call, so concurrent renders share nothing mutable.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/chat/ast.h"
#include "engine/chat/template.h"
#include "engine/chat/value.h"

namespace hearth::chat {

// Variables of one Jinja2 frame; lookups fall through to the parent frame.
struct Scope {
  explicit Scope(std::shared_ptr<Scope> parent_scope) : parent(std::move(parent_scope)) {}
  const Value* find(const std::string& name) const;
  std::shared_ptr<Scope> parent;
  std::unordered_map<std::string, Value> vars;
};
using ScopePtr = std::shared_ptr<Scope>;

class Renderer {
 public:
  explicit Renderer(const TemplateOptions& options);

  // Renders the whole template with `context` (a dict) as its variables.
  std::string render(const StmtList& program, const Value& context);

  Value eval(const Expr& expr, const ScopePtr& scope);
  Value call(const Value& callee, CallArgs& args, int line);

  // Sandbox accounting, used by builtins that loop or allocate.
  void count_iterations(int64_t n, int line);
  void check_size(size_t bytes, int line);
  void check_items(size_t items, int line);
  std::tm now() const;

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Flow exec_list(const StmtList& list, const ScopePtr& scope, std::string& out);
  Flow exec(const Stmt& stmt, const ScopePtr& scope, std::string& out);
  void exec_for(const Stmt& stmt, const ScopePtr& scope, std::string& out);
  void exec_set(const Stmt& stmt, const ScopePtr& scope);
  void append(std::string& out, std::string_view text, int line);
  void assign_targets(const std::vector<std::string>& targets, const Value& value, Scope& scope,
                      int line);
  Value make_macro(const Stmt& stmt, const ScopePtr& scope);
  Value call_macro(const Stmt& stmt, const std::weak_ptr<Scope>& closure, CallArgs& args);
  Value apply_filter_chain(const Expr& filter, const Value& input, const ScopePtr& scope);
  CallArgs eval_args(const Expr& expr, size_t first, const ScopePtr& scope);
  [[gnu::noinline]] Value eval_container(const Expr& expr, const ScopePtr& scope);
  [[gnu::noinline]] Value eval_access(const Expr& expr, const ScopePtr& scope);
  [[gnu::noinline]] Value eval_call(const Expr& expr, const ScopePtr& scope);
  [[gnu::noinline]] Value eval_unary(const Expr& expr, const ScopePtr& scope);
  [[gnu::noinline]] Value eval_binary_expr(const Expr& expr, const ScopePtr& scope);
  Value eval_binary(const std::string& op, const Value& left, const Value& right, int line);
  [[gnu::noinline]] Value eval_compare(const Expr& expr, const ScopePtr& scope);
  Value lookup(const std::string& name, const ScopePtr& scope) const;

  const TemplateOptions& options_;
  ScopePtr globals_;
  ScopePtr root_;
  // Guards the C++ stack: counts nested exec()/eval() frames across macro calls.
  class NativeDepth {
   public:
    NativeDepth(Renderer& r, int line);
    ~NativeDepth() { --r_.native_depth_; }

   private:
    Renderer& r_;
  };

  int64_t iterations_ = 0;
  int depth_ = 0;
  int native_depth_ = 0;
};

}  // namespace hearth::chat
