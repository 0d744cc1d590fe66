#include "engine/chat/template.h"

#include <exception>
#include <new>

#include "engine/chat/ast.h"
#include "engine/chat/builtins.h"
#include "engine/chat/lexer.h"
#include "engine/chat/parser.h"
#include "engine/chat/renderer.h"

namespace hearth::chat {

struct Program {
  StmtList body;
  TemplateOptions options;
};

namespace {

std::string located(const TemplateError& e) {
  if (e.from_template || e.line() <= 0) return e.what();
  return std::string(e.what()) + " (template line " + std::to_string(e.line()) + ")";
}

}  // namespace

Result<ChatTemplate> ChatTemplate::parse(std::string_view source, TemplateOptions opts) {
  try {
    auto program = std::make_shared<Program>();
    LexOptions lex{opts.trim_blocks, opts.lstrip_blocks};
    program->body = parse_template(tokenize(source, lex), opts.max_depth);
    program->options = std::move(opts);
    ChatTemplate result;
    result.program_ = std::move(program);
    return result;
  } catch (const TemplateError& e) {
    return fail("chat template syntax error at line " + std::to_string(e.line()) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return fail("chat template too large to parse");
  } catch (const std::exception& e) {
    return fail(std::string("chat template parse failure: ") + e.what());
  }
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& context) const {
  if (!program_) return fail("chat template was not parsed");
  if (!context.is_object()) return fail("chat template context must be a JSON object");
  try {
    CycleBreaker cycle_breaker;  // declared first: runs after every value below is released
    Renderer renderer(program_->options);
    return renderer.render(program_->body, from_json(context));
  } catch (const TemplateError& e) {
    return fail(located(e));
  } catch (const std::bad_alloc&) {
    return fail("chat template ran out of memory");
  } catch (const std::exception& e) {
    return fail(std::string("chat template render failure: ") + e.what());
  }
}

Result<std::string> ChatTemplate::render(const nlohmann::json& context) const {
  nlohmann::ordered_json ordered;
  try {
    ordered = context;  // same content; object keys keep the (sorted) order json gave them
  } catch (const std::exception& e) {
    return fail(std::string("chat template context could not be converted: ") + e.what());
  }
  return render(ordered);
}

Result<std::string> apply_chat_template(const ChatTemplate& chat_template,
                                        const ChatRequest& request) {
  nlohmann::ordered_json context = nlohmann::ordered_json::object();
  context["messages"] = request.messages;
  if (!request.tools.is_null()) context["tools"] = request.tools;
  context["add_generation_prompt"] = request.add_generation_prompt;
  context["bos_token"] = request.bos_token;
  context["eos_token"] = request.eos_token;
  if (request.template_kwargs.is_object()) {
    for (const auto& [key, value] : request.template_kwargs.items()) {
      if (!context.contains(key)) context[key] = value;
    }
  }
  return chat_template.render(context);
}

}  // namespace hearth::chat
