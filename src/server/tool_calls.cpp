#include "server/tool_calls.h"

#include <algorithm>
#include <cstdio>
#include <random>

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kDeepSeekCallsBegin = "<｜tool▁calls▁begin｜>";
constexpr std::string_view kDeepSeekCallsEnd = "<｜tool▁calls▁end｜>";
constexpr std::string_view kDeepSeekCallBegin = "<｜tool▁call▁begin｜>";
constexpr std::string_view kDeepSeekCallEnd = "<｜tool▁call▁end｜>";
constexpr std::string_view kDeepSeekSep = "<｜tool▁sep｜>";

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

bool all_space(std::string_view s) {
  return std::all_of(s.begin(), s.end(), is_space);
}

// Length of the longest suffix of `text` that is a proper prefix of `marker`: text that may
// become the marker once more arrives, so it must not be released yet.
size_t partial_suffix(std::string_view text, std::string_view marker) {
  const size_t longest = std::min(text.size(), marker.size() - 1);
  for (size_t n = longest; n > 0; --n) {
    if (marker.starts_with(text.substr(text.size() - n))) return n;
  }
  return 0;
}

constexpr size_t kIncomplete = std::string_view::npos;
constexpr size_t kNotJson = std::string_view::npos - 1;

// Where the JSON object or array that `s` starts with (after whitespace) ends: one past its
// closing bracket; kIncomplete when more text is needed; kNotJson when `s` does not start
// with { or [. Only brackets and strings are tracked: validity is json::parse's job.
size_t json_value_end(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  if (i == s.size()) return kIncomplete;
  if (s[i] != '{' && s[i] != '[') return kNotJson;
  int depth = 0;
  bool in_string = false, escaped = false;
  for (; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
  }
  return kIncomplete;
}

// One call object in any of the JSON shapes models write: {"name", "arguments"|"parameters"},
// or OpenAI's own {"function": {...}}. Arguments given as a JSON string are decoded.
bool read_call_object(const json& j, std::vector<ParsedToolCall>& calls, std::string& why) {
  if (!j.is_object()) {
    why = "a call is not a JSON object";
    return false;
  }
  if (auto f = j.find("function"); f != j.end() && f->is_object() && !j.contains("name")) {
    return read_call_object(*f, calls, why);
  }
  auto name = j.find("name");
  if (name == j.end() || !name->is_string() || name->get<std::string>().empty()) {
    why = "a call has no \"name\" string";
    return false;
  }
  json arguments = json::object();
  auto args = j.find("arguments");
  if (args == j.end()) args = j.find("parameters");
  if (args != j.end() && !args->is_null()) {
    if (args->is_string()) {
      arguments = json::parse(args->get<std::string>(), nullptr, /*allow_exceptions=*/false);
      if (arguments.is_discarded()) {
        why = "the arguments of '" + name->get<std::string>() + "' are not JSON";
        return false;
      }
    } else {
      arguments = *args;
    }
  }
  if (!arguments.is_object()) {
    why = "the arguments of '" + name->get<std::string>() + "' are not a JSON object";
    return false;
  }
  calls.push_back({name->get<std::string>(), std::move(arguments)});
  return true;
}

bool read_call_json(std::string_view body, std::vector<ParsedToolCall>& calls, std::string& why) {
  json j = json::parse(trim(body), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    why = "the call is not valid JSON";
    return false;
  }
  if (j.is_object() && j.contains("tool_calls") && j["tool_calls"].is_array()) {
    j = j["tool_calls"];
  }
  if (j.is_array()) {
    if (j.empty()) {
      why = "the list of calls is empty";
      return false;
    }
    for (const auto& item : j) {
      if (!read_call_object(item, calls, why)) return false;
    }
    return true;
  }
  return read_call_object(j, calls, why);
}

// function<｜tool▁sep｜>NAME\n```json\n{...}\n```
bool read_deepseek_call(std::string_view inner, std::vector<ParsedToolCall>& calls,
                        std::string& why) {
  const size_t sep = inner.find(kDeepSeekSep);
  if (sep == std::string_view::npos) {
    why = "a DeepSeek call has no tool separator";
    return false;
  }
  std::string_view rest = inner.substr(sep + kDeepSeekSep.size());
  const size_t newline = rest.find('\n');
  if (newline == std::string_view::npos) {
    why = "a DeepSeek call has no arguments";
    return false;
  }
  const std::string name(trim(rest.substr(0, newline)));
  std::string_view args = trim(rest.substr(newline + 1));
  if (args.starts_with("```")) {
    args.remove_prefix(3);
    if (args.starts_with("json")) args.remove_prefix(4);
    if (args.ends_with("```")) args.remove_suffix(3);
  }
  json wrapped = {{"name", name}};
  json parsed = json::parse(trim(args), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    why = "the arguments of '" + name + "' are not JSON";
    return false;
  }
  wrapped["arguments"] = std::move(parsed);
  return read_call_object(wrapped, calls, why);
}

}  // namespace

ToolCallFormat detect_tool_call_format(std::string_view source, bool* known) {
  if (known) *known = true;
  if (contains(source, "tool▁calls▁begin") || contains(source, "tool▁call▁begin")) {
    return ToolCallFormat::kDeepSeekR1;
  }
  if (contains(source, "[TOOL_CALLS]")) return ToolCallFormat::kMistral;
  if (contains(source, "<|tool_call|>") || contains(source, "<|tool|>")) {
    return ToolCallFormat::kPhi4;
  }
  if (contains(source, "<tool_call>")) return ToolCallFormat::kHermes;
  if (contains(source, "<|start_header_id|>") &&
      (contains(source, "<|python_tag|>") || contains(source, "ipython"))) {
    return ToolCallFormat::kLlama3;
  }
  if (known) *known = false;
  return ToolCallFormat::kGeneric;
}

std::string_view tool_call_format_name(ToolCallFormat format) {
  switch (format) {
    case ToolCallFormat::kGeneric: return "generic JSON";
    case ToolCallFormat::kHermes: return "Hermes <tool_call>";
    case ToolCallFormat::kLlama3: return "Llama 3.x JSON";
    case ToolCallFormat::kPhi4: return "Phi-4 <|tool_call|>";
    case ToolCallFormat::kDeepSeekR1: return "DeepSeek-R1";
    case ToolCallFormat::kMistral: return "Mistral [TOOL_CALLS]";
  }
  return "unknown";
}

bool template_has_thinking(std::string_view source) {
  return contains(source, kThinkOpen) || contains(source, kThinkClose);
}

std::string new_tool_call_id() {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string id = "call_";
  for (int i = 0; i < 24; ++i) id += kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return id;
}

bool parse_tool_call_body(ToolCallFormat format, std::string_view opener, std::string_view body,
                          std::vector<ParsedToolCall>& calls, std::string& why) {
  if (format != ToolCallFormat::kDeepSeekR1) return read_call_json(body, calls, why);
  if (opener == kDeepSeekCallBegin) return read_deepseek_call(body, calls, why);
  // A list of calls: <｜tool▁call▁begin｜>...<｜tool▁call▁end｜>, repeated.
  size_t pos = 0;
  while (true) {
    const size_t begin = body.find(kDeepSeekCallBegin, pos);
    if (begin == std::string_view::npos) break;
    const size_t inner = begin + kDeepSeekCallBegin.size();
    size_t end = body.find(kDeepSeekCallEnd, inner);
    const bool closed = end != std::string_view::npos;
    if (!closed) end = body.size();
    if (!read_deepseek_call(body.substr(inner, end - inner), calls, why)) return false;
    pos = closed ? end + kDeepSeekCallEnd.size() : body.size();
  }
  if (calls.empty()) {
    why = "the DeepSeek call list holds no call";
    return false;
  }
  return true;
}

ToolCallParser::ToolCallParser(ToolCallParserOptions options) : options_(std::move(options)) {
  switch (options_.format) {
    case ToolCallFormat::kHermes: triggers_ = {{"<tool_call>", "</tool_call>"}}; break;
    case ToolCallFormat::kLlama3:
      triggers_ = {{"<|python_tag|>", ""}};
      bare_json_ = true;
      break;
    case ToolCallFormat::kPhi4: triggers_ = {{"<|tool_call|>", "<|/tool_call|>"}}; break;
    case ToolCallFormat::kDeepSeekR1:
      triggers_ = {{std::string(kDeepSeekCallsBegin), std::string(kDeepSeekCallsEnd)},
                   {std::string(kDeepSeekCallBegin), std::string(kDeepSeekCallEnd)}};
      break;
    case ToolCallFormat::kMistral: triggers_ = {{"[TOOL_CALLS]", ""}}; break;
    case ToolCallFormat::kGeneric:
      triggers_ = {{"<tool_call>", "</tool_call>"}};
      bare_json_ = true;
      break;
  }
  // The bare-JSON "trigger" has no opening text; it lives past the tagged ones.
  triggers_.push_back({"", ""});
  if (!options_.parse_calls) {
    triggers_.clear();
    bare_json_ = false;
  }
  if (options_.split_reasoning && options_.starts_in_reasoning) {
    mode_ = Mode::kReasoning;
    reasoning_checked_ = true;
  }
}

std::vector<ToolCallEvent> ToolCallParser::feed(std::string_view piece) {
  std::vector<ToolCallEvent> out;
  buffer_.append(piece);
  run(/*at_end=*/false, out);
  return out;
}

std::vector<ToolCallEvent> ToolCallParser::finish() {
  std::vector<ToolCallEvent> out;
  run(/*at_end=*/true, out);
  return out;
}

void ToolCallParser::run(bool at_end, std::vector<ToolCallEvent>& out) {
  for (;;) {
    bool progressed = false;
    switch (mode_) {
      case Mode::kReasoning: progressed = step_reasoning(at_end, out); break;
      case Mode::kContent: progressed = step_content(at_end, out); break;
      case Mode::kCall: progressed = step_call(at_end, out); break;
    }
    if (!progressed) return;
  }
}

bool ToolCallParser::step_reasoning(bool at_end, std::vector<ToolCallEvent>& out) {
  const size_t close = buffer_.find(kThinkClose);
  const size_t release = close != std::string::npos ? close
                         : at_end                   ? buffer_.size()
                                  : buffer_.size() - partial_suffix(buffer_, kThinkClose);
  if (release > 0) {
    ToolCallEvent event{.kind = ToolCallEvent::Kind::kReasoning,
                        .text = buffer_.substr(0, release)};
    buffer_.erase(0, release);
    out.push_back(std::move(event));
  }
  if (close == std::string::npos) return false;
  buffer_.erase(0, kThinkClose.size());
  // The answer usually starts after blank lines that belong to neither part.
  trim_leading_space_ = true;
  mode_ = Mode::kContent;
  return true;
}

bool ToolCallParser::step_content(bool at_end, std::vector<ToolCallEvent>& out) {
  if (options_.split_reasoning && !reasoning_checked_) {
    // Does the reply open with <think>? Leading whitespace is held while that is unclear.
    const size_t first = buffer_.find_first_not_of(" \n\r\t");
    if (first == std::string::npos && !at_end) return false;
    const std::string_view rest =
        first == std::string::npos ? std::string_view() : std::string_view(buffer_).substr(first);
    if (!at_end && rest.size() < kThinkOpen.size() && kThinkOpen.starts_with(rest)) return false;
    reasoning_checked_ = true;
    if (rest.starts_with(kThinkOpen)) {
      buffer_.erase(0, first + kThinkOpen.size());
      mode_ = Mode::kReasoning;
      return true;
    }
  }
  if (trim_leading_space_) {
    const size_t first = buffer_.find_first_not_of(" \n\r\t");
    if (first == std::string::npos) {
      if (at_end) buffer_.clear();
      return false;
    }
    buffer_.erase(0, first);
    trim_leading_space_ = false;
  }
  if (at_boundary_ && (bare_json_ || calls_ > 0)) {
    // Only whitespace (or ';' between Llama's calls) since the start or the last call: a '{'
    // may start a (bare JSON) call, and whitespace before the next call is not content.
    const size_t first = buffer_.find_first_not_of(bare_json_ ? " \n\r\t;" : " \n\r\t");
    if (first == std::string::npos) {
      if (!at_end) return false;
      if (calls_ == 0) emit_content(buffer_, out);  // whitespace after calls is dropped
      buffer_.clear();
      return false;
    }
    const char c = buffer_[first];
    if (bare_json_ && (c == '{' || (options_.format == ToolCallFormat::kGeneric && c == '['))) {
      if (calls_ > 0 || first > 0) buffer_.erase(0, first);
      active_ = &triggers_.back();
      mode_ = Mode::kCall;
      return true;
    }
    if (calls_ > 0) {
      const std::string_view rest = std::string_view(buffer_).substr(first);
      for (const Trigger& t : triggers_) {
        if (t.open.empty()) continue;
        if (rest.starts_with(t.open)) {
          buffer_.erase(0, first);
          break;
        }
        if (!at_end && t.open.starts_with(rest)) return false;  // wait: it may be a trigger
      }
    }
    at_boundary_ = false;
  }
  // The earliest tagged trigger in the buffer.
  size_t best = std::string::npos;
  const Trigger* found = nullptr;
  for (const Trigger& t : triggers_) {
    if (t.open.empty()) continue;
    const size_t at = buffer_.find(t.open);
    if (at < best) {
      best = at;
      found = &t;
    }
  }
  if (found) {
    emit_content(std::string_view(buffer_).substr(0, best), out);
    buffer_.erase(0, best + found->open.size());
    active_ = found;
    mode_ = Mode::kCall;
    return true;
  }
  size_t hold = 0;
  if (!at_end) {
    for (const Trigger& t : triggers_) {
      if (!t.open.empty()) hold = std::max(hold, partial_suffix(buffer_, t.open));
    }
  }
  const std::string_view ready = std::string_view(buffer_).substr(0, buffer_.size() - hold);
  // After a call, whitespace alone is not worth a content delta.
  if (!(calls_ > 0 && all_space(ready) && at_end)) emit_content(ready, out);
  buffer_.erase(0, ready.size());
  return false;
}

bool ToolCallParser::step_call(bool at_end, std::vector<ToolCallEvent>& out) {
  size_t body_end = std::string::npos;  // where the call's text ends in buffer_
  size_t resume = std::string::npos;    // where the text after it starts
  if (!active_->close.empty()) {
    const size_t close = buffer_.find(active_->close);
    if (close != std::string::npos) {
      body_end = close;
      resume = close + active_->close.size();
    }
  } else {
    const size_t end = json_value_end(buffer_);
    if (end == kNotJson) {
      // e.g. <|python_tag|> followed by code: not a call this parser understands.
      log_malformed("'" + active_->open + "' is not followed by a JSON call");
      emit_content(active_->open, out);
      mode_ = Mode::kContent;
      at_boundary_ = false;
      return true;
    }
    if (end != kIncomplete) body_end = resume = end;
  }
  if (body_end == std::string::npos) {
    if (!at_end) return false;
    body_end = resume = buffer_.size();  // the reply ended inside the call: try what is there
  }
  const std::string body = buffer_.substr(0, body_end);
  const std::string raw = active_->open + buffer_.substr(0, resume);
  buffer_.erase(0, resume);
  mode_ = Mode::kContent;
  std::string why;
  if (emit_calls(body, out, why)) {
    at_boundary_ = true;
    return true;
  }
  log_malformed(why);
  emit_content(raw, out);
  at_boundary_ = false;
  return true;
}

bool ToolCallParser::emit_calls(std::string_view body, std::vector<ToolCallEvent>& out,
                                std::string& why) {
  std::vector<ParsedToolCall> calls;
  if (!parse_tool_call_body(options_.format, active_->open, body, calls, why)) return false;
  if (!options_.tool_names.empty()) {
    for (const auto& call : calls) {
      if (std::find(options_.tool_names.begin(), options_.tool_names.end(), call.name) ==
          options_.tool_names.end()) {
        why = "the model called '" + call.name + "', which is not among the request's tools";
        return false;
      }
    }
  }
  for (auto& call : calls) {
    if (calls_ >= options_.max_calls) {
      log_malformed("a call to '" + call.name + "' beyond parallel_tool_calls=false is dropped");
      continue;
    }
    out.push_back({.kind = ToolCallEvent::Kind::kCallStart,
                   .index = calls_,
                   .id = new_tool_call_id(),
                   .name = call.name});
    out.push_back({.kind = ToolCallEvent::Kind::kArguments,
                   .text = call.arguments.dump(-1, ' ', false, json::error_handler_t::replace),
                   .index = calls_});
    ++calls_;
  }
  return true;
}

void ToolCallParser::emit_content(std::string_view text, std::vector<ToolCallEvent>& out) {
  if (text.empty()) return;
  if (!all_space(text)) at_boundary_ = false;
  if (!out.empty() && out.back().kind == ToolCallEvent::Kind::kContent) {
    out.back().text.append(text);
    return;
  }
  out.push_back({.kind = ToolCallEvent::Kind::kContent, .text = std::string(text)});
}

void ToolCallParser::log_malformed(const std::string& why) {
  if (logged_) return;
  logged_ = true;
  std::fprintf(stderr, "hearth: tool call output (%s) returned as content: %s\n",
               std::string(tool_call_format_name(options_.format)).c_str(), why.c_str());
}

}  // namespace hearth::server
