// Tool calls in a chat model's output: which syntax a model uses (detected once from its chat
// template source) and an incremental parser that splits generated text into content, and
// function calls in OpenAI's shape.
//
// The parser is fed the pieces the engine streams. Text that cannot start a call is released
// as content at once; text that might be the start of a trigger (`<tool_c`) is held until it
// is clear. A call is released when its text is complete and valid (a call start with its
// name, then its arguments), so that a malformed call can still come back as content: the
// raw text is returned as content and the reason logged once per parser.
//
// Engine-independent (strings in, events out). A ToolCallParser is not thread-safe: one per
// request. detect_tool_call_format() is a pure function.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::server {

enum class ToolCallFormat {
  kGeneric,  // unknown template: a JSON object {"name", "arguments"} (or an array of them)
  kHermes,   // Hermes, Qwen2.5, Qwen3: <tool_call>{json}</tool_call>
  kLlama3,   // Llama 3.1-3.3: a bare {"name", "parameters"} object, or <|python_tag|>{json}
  kPhi4,     // Phi-4-mini: <|tool_call|>[{json}, ...]<|/tool_call|>
  kDeepSeekR1,  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>name ...
  kMistral,  // [TOOL_CALLS][{json}, ...]
};

// The syntax a chat template teaches its model, by markers in the template's source.
// `known` is set false when no family matched (the generic JSON fallback applies).
ToolCallFormat detect_tool_call_format(std::string_view template_source, bool* known = nullptr);
std::string_view tool_call_format_name(ToolCallFormat format);

// True when the template writes or expects <think> ... </think> reasoning.
bool template_has_thinking(std::string_view template_source);

// A fresh OpenAI-style tool call id: "call_" and 24 random letters and digits.
std::string new_tool_call_id();

struct ToolCallEvent {
  enum class Kind { kContent, kReasoning, kCallStart, kArguments } kind = Kind::kContent;
  std::string text;  // kContent, kReasoning: text; kArguments: a fragment of the arguments
  int index = 0;     // kCallStart, kArguments: the call's position among this reply's calls
  std::string id;    // kCallStart
  std::string name;  // kCallStart
};

struct ToolCallParserOptions {
  ToolCallFormat format = ToolCallFormat::kGeneric;
  bool parse_calls = true;  // false (tool_choice none, or no tools): everything is content
  // Names a call may use (the request's tools); a call naming another is malformed. Empty:
  // any name.
  std::vector<std::string> tool_names;
  int max_calls = 1 << 20;  // parallel_tool_calls false: 1; later calls are dropped (logged)
  // Reasoning: text inside <think> ... </think> is reported as kReasoning.
  bool split_reasoning = false;
  bool starts_in_reasoning = false;  // the prompt ended with an open <think>
};

class ToolCallParser {
 public:
  explicit ToolCallParser(ToolCallParserOptions options);
  // Movable (it keeps a pointer into its own trigger list, which a move carries along), not
  // copyable.
  ToolCallParser(ToolCallParser&&) = default;
  ToolCallParser(const ToolCallParser&) = delete;
  ToolCallParser& operator=(const ToolCallParser&) = delete;

  // Takes the next piece of output; returns what can be released now.
  std::vector<ToolCallEvent> feed(std::string_view piece);
  // The output ended: releases everything held (an unfinished call is content).
  std::vector<ToolCallEvent> finish();

  int calls() const { return calls_; }

 private:
  enum class Mode { kReasoning, kContent, kCall };
  struct Trigger {
    std::string open;   // text that starts a call ("" for a bare JSON value)
    std::string close;  // text that ends it ("" when the JSON value ends it)
  };

  void run(bool at_end, std::vector<ToolCallEvent>& out);
  bool step_reasoning(bool at_end, std::vector<ToolCallEvent>& out);
  bool step_content(bool at_end, std::vector<ToolCallEvent>& out);
  bool step_call(bool at_end, std::vector<ToolCallEvent>& out);
  // Parses one complete call region; false (with `why`) when it is not a valid call.
  bool emit_calls(std::string_view body, std::vector<ToolCallEvent>& out, std::string& why);
  void emit_content(std::string_view text, std::vector<ToolCallEvent>& out);
  void log_malformed(const std::string& why);

  ToolCallParserOptions options_;
  std::vector<Trigger> triggers_;
  bool bare_json_ = false;  // a JSON object at the start of the reply (or after a call) is a call
  Mode mode_ = Mode::kContent;
  std::string buffer_;               // text not yet released
  const Trigger* active_ = nullptr;  // the trigger of the call being read
  bool at_boundary_ = true;          // nothing but whitespace since the start or the last call
  bool reasoning_checked_ = false;
  bool trim_leading_space_ = false;  // after </think>: blank lines belong to neither part
  int calls_ = 0;
  bool logged_ = false;
};

// Parses the body of one call region in `format` (what lies between the trigger and its end)
// into {name, arguments} pairs; an error message when it is not a valid call. Exposed for tests.
struct ParsedToolCall {
  std::string name;
  nlohmann::ordered_json arguments;  // an object
};
bool parse_tool_call_body(ToolCallFormat format, std::string_view opener, std::string_view body,
                          std::vector<ParsedToolCall>& calls, std::string& why);

}  // namespace hearth::server
