// The constraint on tool calls a model chooses to make (tool_choice "auto"): each chat family's
// call syntax in the sampler's terms (engine/sampler/call_constraint.h), with a schema of the
// request's calls, so that once the model opens a call its JSON is valid and names one of the
// request's tools with that tool's arguments.
//
// Families: Hermes/Qwen2.5 and the generic fallback (`<tool_call>` ... `</tool_call>`; the
// generic one also a bare {"name" object), Llama 3.x (a bare {"name" object, or
// `<|python_tag|>` and an object), Phi-4-mini (`<|tool_call|>[...]<|/tool_call|>`), Mistral
// (`[TOOL_CALLS][...]`). DeepSeek-R1 distills are not constrained: their calls are a name in
// plain text and arguments in a fenced block, which the JSON automaton does not describe.
//
// Pure functions; thread-safe.
#pragma once

#include <memory>

#include "engine/sampler/call_constraint.h"
#include "server/openai_request.h"
#include "server/tool_calls.h"

namespace hearth::server {

struct ToolConstraintContext {
  ToolCallFormat format = ToolCallFormat::kGeneric;
  bool thinking = false;            // the reply may open with <think> reasoning
  bool starts_in_thinking = false;  // the prompt left a <think> open
  bool render_special = false;      // the detokenizer renders control tokens (call markers)
};

// The constraint for `request`'s reply, or null when there is none to apply: no tools, tool
// choice none, a forced call (constrained whole instead), or a family that is not constrained.
std::shared_ptr<const CallConstraintSpec> auto_tool_call_constraint(
    const ChatRequest& request, const ToolConstraintContext& context);

}  // namespace hearth::server
