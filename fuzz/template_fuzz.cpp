// libFuzzer target for the chat-template engine: any template source must parse or fail
// cleanly, and rendering one must finish within the sandbox limits, never crash or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/chat/template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view source(reinterpret_cast<const char*>(data), size);
  hearth::chat::TemplateOptions options;
  // Small limits keep each input fast; the limits themselves are what is being exercised.
  options.max_iterations = 20000;
  options.max_output_bytes = 1 << 20;
  options.clock = [] {
    std::tm t{};
    t.tm_year = 126;
    t.tm_mday = 2;
    return t;
  };
  auto parsed = hearth::chat::ChatTemplate::parse(source, options);
  if (!parsed) return 0;
  static const auto context = nlohmann::ordered_json::parse(R"({
    "messages": [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "Hi <b>there</b>"},
                 {"role": "assistant", "content": "",
                  "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]},
                 {"role": "tool", "content": "{\"ok\": true}"}],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"})");
  (void)parsed->render(context);
  return 0;
}
