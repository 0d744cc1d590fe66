#include "engine/chat/parser.h"

#include <initializer_list>
#include <string_view>

#include "engine/chat/builtins.h"

namespace hearth::chat {
namespace {

// Which of the special macro names a body reads (nested macros have their own).
void scan_names(const Expr* e, Stmt& macro) {
  if (!e) return;
  if (e->kind == ExprKind::kName) {
    macro.uses_varargs |= e->name == "varargs";
    macro.uses_kwargs |= e->name == "kwargs";
    macro.uses_caller |= e->name == "caller";
  }
  for (const auto& arg : e->args) scan_names(arg.get(), macro);
}

void scan_names(const StmtList& body, Stmt& macro) {
  for (const auto& stmt : body) {
    if (stmt->kind == StmtKind::kMacro) continue;
    scan_names(stmt->expr.get(), macro);
    scan_names(stmt->condition.get(), macro);
    scan_names(stmt->filter.get(), macro);
    for (const auto& branch : stmt->branches) {
      scan_names(branch.condition.get(), macro);
      scan_names(branch.body, macro);
    }
    for (const auto& d : stmt->defaults) scan_names(d.get(), macro);
    scan_names(stmt->body, macro);
    scan_names(stmt->else_body, macro);
  }
}

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, int max_depth)
      : tokens_(tokens), max_depth_(max_depth) {}

  StmtList parse() {
    std::string ender;
    StmtList body = parse_body({}, ender);
    return body;
  }

 private:
  // Bounds recursion so hostile nesting is an error instead of a stack overflow.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& p) : p_(p) {
      if (++p_.depth_ > p_.max_depth_) {
        throw TemplateError("template nesting too deep", p_.peek().line);
      }
    }
    ~DepthGuard() { --p_.depth_; }

   private:
    Parser& p_;
  };

  // Operator and postfix chains (`a + b + c`, `x|f|g`, `a.b.c`) build left-deep trees in a
  // loop rather than by recursion; each link spends nesting budget until the chain is parsed,
  // so tree height stays bounded and evaluating or freeing it cannot overflow the stack.
  class ChainBudget {
   public:
    explicit ChainBudget(Parser& p) : p_(p), saved_(p.depth_) {}
    ~ChainBudget() { p_.depth_ = saved_; }
    void grow() {
      if (++p_.depth_ > p_.max_depth_) {
        throw TemplateError("expression too deeply nested", p_.peek().line);
      }
    }

   private:
    Parser& p_;
    int saved_;
  };

  const Token& peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return i < tokens_.size() ? tokens_[i] : tokens_.back();
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool is_op(std::string_view op, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::kOp && peek(ahead).text == op;
  }
  bool is_name(std::string_view name, size_t ahead = 0) const {
    return peek(ahead).type == TokenType::kName && peek(ahead).text == name;
  }
  [[noreturn]] void fail(const std::string& message) const {
    throw TemplateError(message, peek().line);
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::kText: return "text";
      case TokenType::kVarBegin: return "'{{'";
      case TokenType::kVarEnd: return "'}}'";
      case TokenType::kBlockBegin: return "'{%'";
      case TokenType::kBlockEnd: return "'%}'";
      case TokenType::kName: return "'" + t.text + "'";
      case TokenType::kString: return "string literal";
      case TokenType::kInt:
      case TokenType::kFloat: return "number '" + t.text + "'";
      case TokenType::kOp: return "'" + t.text + "'";
      case TokenType::kEof: return "end of template";
    }
    return "token";
  }
  void expect_op(std::string_view op) {
    if (!is_op(op)) fail("expected '" + std::string(op) + "', got " + describe(peek()));
    next();
  }
  std::string expect_name() {
    if (peek().type != TokenType::kName) fail("expected a name, got " + describe(peek()));
    return next().text;
  }
  // Filter and test names may be dotted (`x|my.filter`), as in Jinja2.
  std::string expect_dotted_name(ChainBudget& chain) {
    std::string name = expect_name();
    while (is_op(".")) {
      chain.grow();
      next();
      name += '.';
      name += expect_name();
    }
    return name;
  }
  void expect_block_end() {
    if (peek().type != TokenType::kBlockEnd) {
      fail("expected end of statement block, got " + describe(peek()));
    }
    next();
  }

  // Parses statements until a block tag named in `enders`; leaves the position after that name.
  StmtList parse_body(std::initializer_list<std::string_view> enders, std::string& ender) {
    DepthGuard guard(*this);
    StmtList body;
    while (true) {
      const Token& t = peek();
      if (t.type == TokenType::kEof) {
        if (enders.size() == 0) return body;
        std::string expected;
        for (auto e : enders) expected += (expected.empty() ? "'" : " or '") + std::string(e) + "'";
        fail("unexpected end of template, expected " + expected);
      }
      if (t.type == TokenType::kText) {
        auto stmt = std::make_unique<Stmt>(Stmt{StmtKind::kText, t.line});
        stmt->text = t.text;
        body.push_back(std::move(stmt));
        next();
      } else if (t.type == TokenType::kVarBegin) {
        next();
        auto stmt = std::make_unique<Stmt>(Stmt{StmtKind::kOutput, t.line});
        stmt->expr = parse_tuple_expression();
        if (peek().type != TokenType::kVarEnd) fail("expected '}}', got " + describe(peek()));
        next();
        body.push_back(std::move(stmt));
      } else if (t.type == TokenType::kBlockBegin) {
        next();
        if (peek().type != TokenType::kName) fail("expected a tag name, got " + describe(peek()));
        const std::string& tag = peek().text;
        for (auto e : enders) {
          if (tag == e) {
            ender = tag;
            next();
            return body;
          }
        }
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    const Token& tag_token = next();
    std::string tag = tag_token.text;
    auto stmt = std::make_unique<Stmt>(Stmt{StmtKind::kText, tag_token.line});
    std::string ender;
    if (tag == "if") {
      // Jinja2 only reports unknown filters/tests inside an if once that code runs.
      ++if_depth_;
      stmt->kind = StmtKind::kIf;
      ExprPtr condition = parse_tuple_expression(false);
      while (true) {
        expect_block_end();
        IfBranch branch{std::move(condition), parse_body({"elif", "else", "endif"}, ender)};
        stmt->branches.push_back(std::move(branch));
        if (ender == "elif") {
          condition = parse_tuple_expression(false);
        } else if (ender == "else") {
          expect_block_end();
          stmt->branches.push_back(IfBranch{nullptr, parse_body({"endif"}, ender)});
          break;
        } else {
          break;
        }
      }
      --if_depth_;
      expect_block_end();
    } else if (tag == "for") {
      stmt->kind = StmtKind::kFor;
      stmt->targets = parse_targets();
      if (!is_name("in")) fail("expected 'in' in for loop, got " + describe(peek()));
      next();
      stmt->expr = parse_tuple_expression(false);
      if (is_name("if")) {
        next();
        stmt->condition = parse_expression();
      }
      if (is_name("recursive")) fail("recursive loops are not supported");
      expect_block_end();
      ++loop_depth_;
      stmt->body = parse_body({"else", "endfor"}, ender);
      --loop_depth_;
      if (ender == "else") {
        expect_block_end();
        stmt->else_body = parse_body({"endfor"}, ender);
      }
      expect_block_end();
    } else if (tag == "set") {
      stmt->targets.push_back(expect_name());
      if (is_op(".")) {
        next();
        stmt->attr = expect_name();
      } else {
        while (is_op(",")) {
          next();
          stmt->targets.push_back(expect_name());
        }
      }
      if (is_op("=")) {
        next();
        stmt->kind = StmtKind::kSet;
        stmt->expr = parse_tuple_expression();
        expect_block_end();
      } else {
        if (stmt->targets.size() != 1 || !stmt->attr.empty()) fail("expected '=' in set");
        stmt->kind = StmtKind::kSetBlock;
        if (is_op("|")) stmt->filter = parse_filters(nullptr);
        expect_block_end();
        stmt->body = parse_body({"endset"}, ender);
        expect_block_end();
      }
    } else if (tag == "macro") {
      stmt->kind = StmtKind::kMacro;
      stmt->name = expect_name();
      parse_params(*stmt);
      expect_block_end();
      int saved_loops = loop_depth_;
      loop_depth_ = 0;
      stmt->body = parse_body({"endmacro"}, ender);
      loop_depth_ = saved_loops;
      if (peek().type == TokenType::kName) next();  // {% endmacro name %}
      expect_block_end();
      scan_names(stmt->body, *stmt);
    } else if (tag == "call") {
      stmt->kind = StmtKind::kCallBlock;
      if (is_op("(")) parse_params(*stmt);
      stmt->expr = parse_expression();
      if (stmt->expr->kind != ExprKind::kCall) fail("expected a macro call in call block");
      expect_block_end();
      stmt->body = parse_body({"endcall"}, ender);
      expect_block_end();
      scan_names(stmt->body, *stmt);
    } else if (tag == "filter") {
      stmt->kind = StmtKind::kFilterBlock;
      stmt->filter = parse_filters(nullptr, /*leading_pipe=*/false);
      expect_block_end();
      stmt->body = parse_body({"endfilter"}, ender);
      expect_block_end();
    } else if (tag == "break" || tag == "continue") {
      if (loop_depth_ == 0) fail("'" + tag + "' outside of a loop");
      stmt->kind = tag == "break" ? StmtKind::kBreak : StmtKind::kContinue;
      expect_block_end();
    } else if (tag == "do") {
      stmt->kind = StmtKind::kExprStmt;
      stmt->expr = parse_tuple_expression();
      expect_block_end();
    } else if (tag == "generation") {
      // Hugging Face's assistant-mask extension: renders its body unchanged.
      stmt->kind = StmtKind::kScope;
      expect_block_end();
      stmt->body = parse_body({"endgeneration"}, ender);
      expect_block_end();
    } else {
      throw TemplateError("unknown or unexpected tag '" + tag + "'", tag_token.line);
    }
    return stmt;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> targets;
    bool paren = is_op("(");
    if (paren) next();
    targets.push_back(expect_name());
    while (is_op(",")) {
      next();
      if (paren && is_op(")")) break;
      targets.push_back(expect_name());
    }
    if (paren) expect_op(")");
    return targets;
  }

  void parse_params(Stmt& stmt) {
    expect_op("(");
    while (!is_op(")")) {
      stmt.params.push_back(expect_name());
      if (is_op("=")) {
        next();
        stmt.defaults.push_back(parse_expression());
      } else {
        stmt.defaults.push_back(nullptr);
      }
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  void check_filter(const std::string& name, int line) const {
    if (if_depth_ == 0 && !is_known_filter(name)) {
      throw TemplateError("No filter named '" + name + "'.", line);
    }
  }

  ExprPtr make(ExprKind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  // `a, b` without parentheses makes a tuple (as in `{% set x = 1, 2 %}`). Conditions of `if`
  // and the iterable of `for` are parsed without the inline `x if c else y`, as in Jinja2.
  ExprPtr parse_tuple_expression(bool with_condition = true) {
    int line = peek().line;
    auto item = [&] { return with_condition ? parse_expression() : parse_or(); };
    ExprPtr first = item();
    if (!is_op(",")) return first;
    auto tuple = make(ExprKind::kTuple, line);
    tuple->args.push_back(std::move(first));
    while (is_op(",")) {
      next();
      if (peek().type == TokenType::kVarEnd || peek().type == TokenType::kBlockEnd ||
          is_name("if")) {
        break;
      }
      tuple->args.push_back(item());
    }
    return tuple;
  }

  ExprPtr parse_expression() {
    ChainBudget chain(*this);
    DepthGuard guard(*this);
    int line = peek().line;
    ExprPtr value = parse_or();
    while (is_name("if")) {
      chain.grow();
      next();
      auto cond = make(ExprKind::kCondition, line);
      cond->args.push_back(std::move(value));
      cond->args.push_back(parse_or());
      if (is_name("else")) {
        next();
        cond->args.push_back(parse_expression());
      } else {
        cond->args.push_back(nullptr);
      }
      value = std::move(cond);
    }
    return value;
  }

  ExprPtr parse_or() {
    ChainBudget chain(*this);
    ExprPtr left = parse_and();
    while (is_name("or")) {
      chain.grow();
      auto e = make(ExprKind::kOr, next().line);
      e->args.push_back(std::move(left));
      e->args.push_back(parse_and());
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_and() {
    ChainBudget chain(*this);
    ExprPtr left = parse_not();
    while (is_name("and")) {
      chain.grow();
      auto e = make(ExprKind::kAnd, next().line);
      e->args.push_back(std::move(left));
      e->args.push_back(parse_not());
      left = std::move(e);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make(ExprKind::kNot, next().line);
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    int line = peek().line;
    ExprPtr first = parse_math1();
    ExprPtr cmp;
    while (true) {
      std::string op;
      const Token& t = peek();
      if (t.type == TokenType::kOp && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                       t.text == ">" || t.text == "<=" || t.text == ">=")) {
        op = t.text;
        next();
      } else if (is_name("in")) {
        op = "in";
        next();
      } else if (is_name("not") && is_name("in", 1)) {
        op = "not in";
        next();
        next();
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(ExprKind::kCompare, line);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(parse_math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr binary(std::string op, ExprPtr left, ExprPtr right, int line) {
    auto e = make(ExprKind::kBinary, line);
    e->name = std::move(op);
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_math1() {
    ChainBudget chain(*this);
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      chain.grow();
      const Token& op = next();
      left = binary(op.text, std::move(left), parse_concat(), op.line);
    }
    return left;
  }

  ExprPtr parse_concat() {
    ChainBudget chain(*this);
    ExprPtr left = parse_math2();
    while (is_op("~")) {
      chain.grow();
      const Token& op = next();
      left = binary("~", std::move(left), parse_math2(), op.line);
    }
    return left;
  }

  ExprPtr parse_math2() {
    ChainBudget chain(*this);
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      chain.grow();
      const Token& op = next();
      left = binary(op.text, std::move(left), parse_pow(), op.line);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ChainBudget chain(*this);
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      chain.grow();
      const Token& op = next();
      left = binary("**", std::move(left), parse_unary(true), op.line);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      const Token& op = next();
      node = make(op.text == "-" ? ExprKind::kNeg : ExprKind::kPos, op.line);
      node->args.push_back(parse_unary(false));
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = peek();
    int line = t.line;
    if (t.type == TokenType::kName) {
      next();
      auto e = make(ExprKind::kLiteral, line);
      if (t.text == "true" || t.text == "True") {
        e->literal = Value::boolean(true);
      } else if (t.text == "false" || t.text == "False") {
        e->literal = Value::boolean(false);
      } else if (t.text == "none" || t.text == "None") {
        e->literal = Value::none();
      } else {
        e->kind = ExprKind::kName;
        e->name = t.text;
      }
      return e;
    }
    if (t.type == TokenType::kString) {
      std::string s;
      while (peek().type == TokenType::kString) s += next().text;
      auto e = make(ExprKind::kLiteral, line);
      e->literal = Value::string(std::move(s));
      return e;
    }
    if (t.type == TokenType::kInt || t.type == TokenType::kFloat) {
      next();
      auto e = make(ExprKind::kLiteral, line);
      e->literal =
          t.type == TokenType::kInt ? Value::integer(t.int_value) : Value::number(t.float_value);
      return e;
    }
    if (is_op("(")) {
      next();
      if (is_op(")")) {
        next();
        return make(ExprKind::kTuple, line);
      }
      ExprPtr first = parse_expression();
      if (is_op(")")) {
        next();
        return first;
      }
      auto tuple = make(ExprKind::kTuple, line);
      tuple->args.push_back(std::move(first));
      while (is_op(",")) {
        next();
        if (is_op(")")) break;
        tuple->args.push_back(parse_expression());
      }
      expect_op(")");
      return tuple;
    }
    if (is_op("[")) {
      next();
      auto list = make(ExprKind::kList, line);
      while (!is_op("]")) {
        list->args.push_back(parse_expression());
        if (!is_op(",")) break;
        next();
      }
      expect_op("]");
      return list;
    }
    if (is_op("{")) {
      next();
      auto dict = make(ExprKind::kDict, line);
      while (!is_op("}")) {
        dict->args.push_back(parse_expression());
        expect_op(":");
        dict->args.push_back(parse_expression());
        if (!is_op(",")) break;
        next();
      }
      expect_op("}");
      return dict;
    }
    fail("unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    ChainBudget chain(*this);
    while (true) {
      chain.grow();
      if (is_op(".")) {
        int line = next().line;
        if (peek().type == TokenType::kInt) {
          auto e = make(ExprKind::kSubscript, line);
          auto index = make(ExprKind::kLiteral, line);
          index->literal = Value::integer(next().int_value);
          e->args.push_back(std::move(node));
          e->args.push_back(std::move(index));
          node = std::move(e);
        } else {
          auto e = make(ExprKind::kAttr, line);
          e->name = expect_name();
          e->args.push_back(std::move(node));
          node = std::move(e);
        }
      } else if (is_op("[")) {
        node = parse_subscript(std::move(node));
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr node) {
    int line = next().line;  // '['
    ExprPtr parts[3];
    int part = 0;
    bool is_slice = false;
    while (true) {
      if (is_op(":")) {
        next();
        is_slice = true;
        if (++part > 2) fail("too many ':' in slice");
        continue;
      }
      if (is_op("]")) break;
      if (parts[part]) fail("expected ']' or ':', got " + describe(peek()));
      parts[part] = parse_expression();
    }
    expect_op("]");
    if (!is_slice) {
      if (!parts[0]) fail("empty subscript");
      auto e = make(ExprKind::kSubscript, line);
      e->args.push_back(std::move(node));
      e->args.push_back(std::move(parts[0]));
      return e;
    }
    auto e = make(ExprKind::kSlice, line);
    e->args.push_back(std::move(node));
    for (auto& p : parts) e->args.push_back(std::move(p));
    return e;
  }

  // Arguments go to args[first_arg...]; keyword names to kwarg_names (they come last).
  void parse_call_args(Expr& call) {
    expect_op("(");
    while (!is_op(")")) {
      if (is_op("*") || is_op("**")) fail("*args and **kwargs in calls are not supported");
      if (peek().type == TokenType::kName && is_op("=", 1)) {
        call.kwarg_names.push_back(next().text);
        next();
        call.args.push_back(parse_expression());
      } else {
        if (!call.kwarg_names.empty()) fail("positional argument follows keyword argument");
        call.args.push_back(parse_expression());
      }
      if (!is_op(",")) break;
      next();
    }
    expect_op(")");
  }

  ExprPtr parse_call(ExprPtr callee) {
    auto call = make(ExprKind::kCall, peek().line);
    call->args.push_back(std::move(callee));
    parse_call_args(*call);
    return call;
  }

  // One or more `| name(args)`; `input` may be null for {% filter %} and {% set x | f %}.
  ExprPtr parse_filters(ExprPtr input, bool leading_pipe = true) {
    ChainBudget chain(*this);
    bool first = true;
    while (first || is_op("|")) {
      chain.grow();
      if (!first || leading_pipe) expect_op("|");
      first = false;
      auto f = make(ExprKind::kFilter, peek().line);
      f->name = expect_dotted_name(chain);
      check_filter(f->name, f->line);
      f->args.push_back(std::move(input));
      if (is_op("(")) parse_call_args(*f);
      input = std::move(f);
    }
    return input;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    ChainBudget chain(*this);
    while (true) {
      chain.grow();
      if (is_op("|")) {
        auto f = make(ExprKind::kFilter, next().line);
        f->name = expect_dotted_name(chain);
        check_filter(f->name, f->line);
        f->args.push_back(std::move(node));
        if (is_op("(")) parse_call_args(*f);
        node = std::move(f);
      } else if (is_name("is")) {
        auto test = make(ExprKind::kTest, next().line);
        if (is_name("not")) {
          next();
          test->negated = true;
        }
        test->name = expect_dotted_name(chain);
        if (if_depth_ == 0 && !is_known_test(test->name)) {
          throw TemplateError("No test named '" + test->name + "'.", test->line);
        }
        test->args.push_back(std::move(node));
        const Token& t = peek();
        if (is_op("(")) {
          parse_call_args(*test);
        } else if ((t.type == TokenType::kName || t.type == TokenType::kString ||
                    t.type == TokenType::kInt || t.type == TokenType::kFloat || is_op("[") ||
                    is_op("{")) &&
                   !(is_name("else") || is_name("or") || is_name("and") || is_name("if") ||
                     is_name("in") || is_name("not") || is_name("is"))) {
          test->args.push_back(parse_postfix(parse_primary()));
        }
        node = std::move(test);
      } else if (is_op("(")) {
        node = parse_call(std::move(node));
      } else {
        return node;
      }
    }
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int max_depth_;
  int loop_depth_ = 0;
  int if_depth_ = 0;
};

}  // namespace

StmtList parse_template(const std::vector<Token>& tokens, int max_depth) {
  return Parser(tokens, max_depth).parse();
}

}  // namespace hearth::chat
