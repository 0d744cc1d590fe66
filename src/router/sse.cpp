#include "router/sse.h"

#include <nlohmann/json.hpp>

namespace hearth::router {
namespace {

// An event larger than this without its blank line is not an OpenAI chunk.
constexpr size_t kMaxEventBytes = 4 << 20;

SseFrame read_chunk(std::string data) {
  SseFrame frame;
  if (data == "[DONE]") {
    frame.kind = SseFrame::Kind::kDone;
    return frame;
  }
  auto j = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    frame.kind = SseFrame::Kind::kMalformed;
    frame.payload = "the upstream sent an event that is not a JSON object";
    return frame;
  }
  if (j.contains("error")) {
    frame.kind = SseFrame::Kind::kError;
    const auto& e = j["error"];
    frame.payload = e.is_object() && e.contains("message") && e["message"].is_string()
                        ? e["message"].get<std::string>()
                        : "the upstream reported an error";
    return frame;
  }
  if (j.contains("choices") && j["choices"].is_array() && !j["choices"].empty() &&
      j["choices"][0].is_object()) {
    const auto& c = j["choices"][0];
    if (c.contains("delta") && c["delta"].is_object()) {
      const auto& d = c["delta"];
      frame.has_content = (d.contains("content") && d["content"].is_string() &&
                           !d["content"].get_ref<const std::string&>().empty()) ||
                          (d.contains("tool_calls") && !d["tool_calls"].is_null()) ||
                          (d.contains("function_call") && !d["function_call"].is_null());
    } else if (c.contains("text") && c["text"].is_string()) {
      frame.has_content = !c["text"].get_ref<const std::string&>().empty();
    }
    if (!frame.has_content && c.contains("finish_reason") && c["finish_reason"].is_string()) {
      frame.has_content = true;  // an empty answer is still an answer: commit to it
    }
  }
  if (j.contains("usage") && j["usage"].is_object()) {
    const auto& u = j["usage"];
    if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer()) {
      frame.prompt_tokens = u["prompt_tokens"].get<int64_t>();
    }
    if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer()) {
      frame.completion_tokens = u["completion_tokens"].get<int64_t>();
    }
  }
  frame.payload = std::move(data);
  return frame;
}

}  // namespace

std::vector<SseFrame> SseReader::feed(std::string_view bytes) {
  std::vector<SseFrame> frames;
  for (char c : bytes) {
    if (c != '\r') buffer_ += c;  // CRLF and LF line endings read alike
  }
  size_t start = 0;
  for (;;) {
    const size_t end = buffer_.find("\n\n", start);
    if (end == std::string::npos) break;
    std::string_view event(buffer_.data() + start, end - start);
    start = end + 2;
    std::string data;
    bool has_data = false;
    size_t line_start = 0;
    while (line_start <= event.size()) {
      size_t line_end = event.find('\n', line_start);
      if (line_end == std::string_view::npos) line_end = event.size();
      std::string_view line = event.substr(line_start, line_end - line_start);
      line_start = line_end + 1;
      if (line.rfind("data:", 0) == 0) {
        line.remove_prefix(5);
        if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
        if (has_data) data += '\n';
        data += line;
        has_data = true;
      } else if (!line.empty() && line.front() != ':' && line.rfind("event:", 0) != 0 &&
                 line.rfind("id:", 0) != 0 && line.rfind("retry:", 0) != 0) {
        frames.push_back({.kind = SseFrame::Kind::kMalformed,
                          .payload = "the upstream sent a line that is not Server-Sent Events"});
        buffer_.clear();
        return frames;
      }
    }
    if (has_data) frames.push_back(read_chunk(std::move(data)));  // comments keep alive only
  }
  buffer_.erase(0, start);
  if (buffer_.size() > kMaxEventBytes) {
    frames.push_back(
        {.kind = SseFrame::Kind::kMalformed, .payload = "the upstream sent an event over 4 MiB"});
    buffer_.clear();
  }
  return frames;
}

}  // namespace hearth::router
