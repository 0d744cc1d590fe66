// How a model's chat template wants an assistant turn that called tools, found by rendering a
// probe conversation once when the model loads. Templates disagree: most render `tool_calls`
// with `arguments` as an object (tojson) next to a string content, DeepSeek-R1's renders them
// only when `content is none` and concatenates `arguments` as a string. Requests arrive in
// OpenAI's shape and are adapted to the style the template renders.
//
// Pure functions; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "engine/chat/model_template.h"

namespace hearth::server {

struct ToolMessageStyle {
  bool null_content = false;      // content stays null beside tool_calls (not "")
  bool string_arguments = false;  // function.arguments as a JSON string (not an object)
};

// The first style in which the template renders a probe call's name and arguments; the
// default style when none does (the template ignores tool calls).
ToolMessageStyle probe_tool_message_style(const chat::ModelChatTemplate& model);

// Phi-4-mini's template does not read the `tools` variable: it prints a system message's own
// `tools` string between <|tool|> tags. True when `template_source` reads messages' tools so.
bool template_reads_message_tools(std::string_view template_source);

// Hands the request's tools to such a template: the first system message (one is added when
// there is none) gets `tools`, the JSON list of the functions.
void attach_tools_to_system_message(nlohmann::ordered_json& messages,
                                    const nlohmann::ordered_json& tools);

// Rewrites the assistant messages with tool_calls in `messages` (as parse_chat_request left
// them: content null when only calls, arguments decoded to objects) into `style`.
void apply_tool_message_style(nlohmann::ordered_json& messages, ToolMessageStyle style);

}  // namespace hearth::server
