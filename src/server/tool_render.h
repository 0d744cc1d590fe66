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

// Rewrites the assistant messages with tool_calls in `messages` (as parse_chat_request left
// them: content null when only calls, arguments decoded to objects) into `style`.
void apply_tool_message_style(nlohmann::ordered_json& messages, ToolMessageStyle style);

}  // namespace hearth::server
