// Chat templates: a sandboxed Jinja2 engine that renders a model's chat template the way
// Hugging Face's apply_chat_template does (Jinja2 3.1 semantics, trim_blocks, lstrip_blocks,
// raise_exception, tojson, strftime_now).
//
// Parse once, render many times: a ChatTemplate is immutable after parse() and render() is
// const and safe to call from several threads at once. Every failure, including a template's
// own raise_exception(), comes back as an Error; rendering is bounded by the limits below, so a
// hostile template fails instead of hanging or exhausting memory. Rendering recurses on the
// C++ stack: the default limits need about 2 MiB of it in a release build (more unoptimized),
// which the default 8 MiB thread stack covers.
//
// Known differences from Jinja2 as Hugging Face runs it:
// - integers are 64-bit (overflow is an error, Python would grow them);
// - case mapping (upper, lower, title, capitalize) only changes ASCII letters;
// - `{% do %}` and list.append/extend/insert/pop work (HF's immutable sandbox refuses them);
// - not supported: include/extends/import/block, recursive loops, cycler(), `*args` or
//   `**kwargs` in calls, format specs in str.format(); range() gives a list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "hearth/status.h"

namespace hearth::chat {

struct TemplateOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
  // Loop iterations, macro calls and elements produced by range()/repetition, per render.
  int64_t max_iterations = 1'000'000;
  // Macro call depth at render time; statement/expression nesting at parse time.
  int max_depth = 256;
  // Rendered output and any single string or list built while rendering.
  size_t max_output_bytes = 16u << 20;
  // Local time used by strftime_now(); unset means the system clock. Tests pin the date here;
  // tm_wday and tm_yday are derived from the date, so only the calendar fields need setting.
  std::function<std::tm()> clock;
};

struct Program;

class ChatTemplate {
 public:
  static Result<ChatTemplate> parse(std::string_view source, TemplateOptions opts = {});

  // context: a JSON object of variables (messages, tools, add_generation_prompt, bos_token,
  // eos_token, ...). Object key order matters to tojson and to `for k, v in d.items()`, so
  // prefer ordered_json; a plain json has already lost the caller's order (keys come sorted).
  Result<std::string> render(const nlohmann::ordered_json& context) const;
  Result<std::string> render(const nlohmann::json& context) const;

 private:
  std::shared_ptr<const Program> program_;
};

// Convenience used by the CLI and the server.
struct ChatRequest {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  nlohmann::ordered_json tools;  // null when absent: the template then sees `tools` undefined
  bool add_generation_prompt = true;
  // Extra template variables (OpenAI-compatible servers' `chat_template_kwargs`, e.g. Qwen3's
  // `enable_thinking`): an object, or null. They cannot replace the variables above.
  nlohmann::ordered_json template_kwargs;
  std::string bos_token;
  std::string eos_token;
};

Result<std::string> apply_chat_template(const ChatTemplate& chat_template,
                                        const ChatRequest& request);

}  // namespace hearth::chat
