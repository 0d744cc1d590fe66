#include "server/tool_constraint.h"

#include <cstdio>

#include "engine/sampler/json_schema.h"

namespace hearth::server {

using json = nlohmann::ordered_json;

namespace {

// Whitespace inside a constrained call: one line break and a few blanks between two JSON
// tokens, enough for the one-line or lightly indented calls templates show, and no room for a
// weak model to pad a call with newlines.
constexpr uint8_t kCallWhitespaceRun = 9;
constexpr uint8_t kCallNewlines = 1;

}  // namespace

std::shared_ptr<const CallConstraintSpec> auto_tool_call_constraint(
    const ChatRequest& request, const ToolConstraintContext& context) {
  if (!wants_tool_calls(request) || forces_tool_call(request)) return nullptr;
  auto spec = std::make_shared<CallConstraintSpec>();
  std::string arguments_key = "arguments";
  bool lists = false;
  switch (context.format) {
    case ToolCallFormat::kHermes: spec->triggers = {{"<tool_call>", "</tool_call>", false}}; break;
    case ToolCallFormat::kGeneric:
      spec->triggers = {{"<tool_call>", "</tool_call>", false}};
      spec->bare_json = true;
      spec->bare_array = true;  // the generic parser reads an array of calls there too
      break;
    case ToolCallFormat::kLlama3:
      // Llama 3.1's template asks for {"name": ..., "parameters": ...}.
      spec->triggers = {{"<|python_tag|>", "", false}};
      spec->bare_json = true;
      arguments_key = "parameters";
      break;
    case ToolCallFormat::kPhi4:
      spec->triggers = {{"<|tool_call|>", "<|/tool_call|>", true}};
      lists = true;
      break;
    case ToolCallFormat::kMistral:
      spec->triggers = {{"[TOOL_CALLS]", "", true}};
      lists = true;
      break;
    case ToolCallFormat::kDeepSeekR1: return nullptr;
  }
  const json call = tool_call_union_schema(request.tools, request.tool_names, arguments_key);
  auto call_schema = JsonSchema::compile(call);
  if (!call_schema) {
    // The tools' parameters compiled one by one when the request was read; a failure here is
    // ours, and the reply is then read unconstrained rather than refused.
    std::fprintf(stderr, "hearth: tool calls left unconstrained: %s\n",
                 call_schema.error().message.c_str());
    return nullptr;
  }
  spec->call_schema = std::move(*call_schema);
  if (lists) {
    json list = {{"type", "array"}, {"items", call}, {"minItems", 1}};
    if (!request.parallel_tool_calls) list["maxItems"] = 1;
    auto list_schema = JsonSchema::compile(list, /*container_root=*/true);
    if (!list_schema) {
      std::fprintf(stderr, "hearth: tool calls left unconstrained: %s\n",
                   list_schema.error().message.c_str());
      return nullptr;
    }
    spec->list_schema = std::move(*list_schema);
  }
  spec->json.max_whitespace_run = kCallWhitespaceRun;
  spec->json.max_newlines = kCallNewlines;
  spec->max_close_newlines = kCallNewlines;
  spec->max_close_blanks = kCallWhitespaceRun - kCallNewlines;
  if (!request.parallel_tool_calls) spec->max_calls = 1;
  spec->thinking = context.thinking;
  spec->starts_in_thinking = context.starts_in_thinking;
  spec->render_special = context.render_special;
  return spec;
}

}  // namespace hearth::server
