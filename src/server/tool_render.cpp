#include "server/tool_render.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kProbeName = "hearth_probe_function";
constexpr const char* kProbeValue = "hearth_probe_value";

json probe_messages() {
  return json::array(
      {{{"role", "user"}, {"content", "probe"}},
       {{"role", "assistant"},
        {"content", nullptr},
        {"tool_calls",
         json::array(
             {{{"id", "call_probe"},
               {"type", "function"},
               {"function", {{"name", kProbeName}, {"arguments", {{"q", kProbeValue}}}}}}})}},
       {{"role", "tool"}, {"tool_call_id", "call_probe"}, {"content", "done"}}});
}

}  // namespace

bool template_reads_message_tools(std::string_view source) {
  return source.find("message['tools']") != std::string_view::npos ||
         source.find("message.tools") != std::string_view::npos;
}

void attach_tools_to_system_message(json& messages, const json& tools) {
  if (!messages.is_array() || !tools.is_array() || tools.empty()) return;
  json functions = json::array();
  for (const json& tool : tools) {
    if (tool.is_object() && tool.contains("function")) functions.push_back(tool["function"]);
  }
  const std::string text = functions.dump(-1, ' ', false, json::error_handler_t::replace);
  for (json& m : messages) {
    if (m.is_object() && m.value("role", "") == "system") {
      m["tools"] = text;
      return;
    }
  }
  messages.insert(messages.begin(), json{{"role", "system"}, {"content", ""}, {"tools", text}});
}

void apply_tool_message_style(json& messages, ToolMessageStyle style) {
  if (!messages.is_array()) return;
  for (json& m : messages) {
    if (!m.is_object() || m.value("role", "") != "assistant") continue;
    auto calls = m.find("tool_calls");
    if (calls == m.end() || !calls->is_array()) continue;
    if (!style.null_content && m.contains("content") && m["content"].is_null()) m["content"] = "";
    if (!style.string_arguments) continue;
    for (json& call : *calls) {
      if (!call.is_object() || !call.contains("function") || !call["function"].is_object())
        continue;
      json& f = call["function"];
      if (auto args = f.find("arguments"); args != f.end() && !args->is_string()) {
        *args = args->dump(-1, ' ', false, json::error_handler_t::replace);
      }
    }
  }
}

ToolMessageStyle probe_tool_message_style(const chat::ModelChatTemplate& model) {
  const ToolMessageStyle styles[] = {{false, false}, {true, false}, {true, true}, {false, true}};
  for (const ToolMessageStyle& style : styles) {
    chat::ChatRequest request;
    request.messages = probe_messages();
    apply_tool_message_style(request.messages, style);
    request.add_generation_prompt = true;
    request.bos_token = model.bos_token;
    request.eos_token = model.eos_token;
    auto text = chat::apply_chat_template(model.chat_template, request);
    if (text && text->find(kProbeName) != std::string::npos &&
        text->find(kProbeValue) != std::string::npos) {
      return style;
    }
  }
  return {};
}

}  // namespace hearth::server
