#include "cli/compare_client.h"

#include <httplib.h>

#include <chrono>

#include "router/sse.h"

namespace hearth::cli {

using nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

std::string error_message(const std::string& body, int status) {
  ordered_json doc = ordered_json::parse(body, nullptr, false);
  if (doc.is_object() && doc.contains("error")) {
    const auto& e = doc["error"];
    if (e.is_object() && e.contains("message") && e["message"].is_string()) {
      return e["message"].get<std::string>();
    }
    if (e.is_string()) return e.get<std::string>();
  }
  return "HTTP " + std::to_string(status) + (body.empty() ? "" : ": " + body.substr(0, 200));
}

double number_or(const ordered_json& object, const char* key, double fallback) {
  if (object.is_object() && object.contains(key) && object[key].is_number()) {
    return object[key].get<double>();
  }
  return fallback;
}

}  // namespace

void stream_chat(const CompareRequest& request, compare::RequestRecord& record) {
  ordered_json body = {{"model", request.model},
                       {"messages", request.messages},
                       {"stream", true},
                       {"stream_options", {{"include_usage", true}}},
                       {"max_tokens", request.max_tokens},
                       {"temperature", request.temperature}};
  if (request.seed >= 0) body["seed"] = request.seed;

  httplib::Client client("127.0.0.1", request.port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(600, 0);
  client.set_write_timeout(60, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/chat/completions";
  req.body = body.dump();
  req.set_header("Content-Type", "application/json");

  int status = 0;
  std::string attempts;
  std::string error_body;
  router::SseReader reader;
  bool done = false;
  size_t content_chunks = 0;
  ordered_json timings;
  const auto start = Clock::now();
  req.response_handler = [&](const httplib::Response& r) {
    status = r.status;
    record.target = r.get_header_value("X-Hearth-Target");
    attempts = r.get_header_value("X-Hearth-Attempts");
    return true;
  };
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (status != 200) {
      error_body.append(data, n);
      return true;
    }
    for (auto& frame : reader.feed(std::string_view(data, n))) {
      using Kind = router::SseFrame::Kind;
      if (frame.kind == Kind::kDone) {
        done = true;
        continue;
      }
      if (frame.kind == Kind::kMalformed) {
        record.error = "malformed event: " + frame.payload;
        return false;
      }
      if (frame.kind == Kind::kError) {
        record.error = frame.payload;  // the error event's message
        return false;
      }
      ordered_json chunk = ordered_json::parse(frame.payload, nullptr, false);
      if (frame.has_content && record.ttft_ms < 0) record.ttft_ms = ms_since(start);
      if (!chunk.is_object()) continue;
      if (chunk.contains("choices") && chunk["choices"].is_array() && !chunk["choices"].empty()) {
        const auto& delta = chunk["choices"][0].value("delta", ordered_json::object());
        if (delta.is_object() && delta.contains("content") && delta["content"].is_string()) {
          const auto& text = delta["content"].get_ref<const std::string&>();
          if (!text.empty()) {
            record.answer += text;
            ++content_chunks;
          }
        }
      }
      if (chunk.contains("timings") && chunk["timings"].is_object()) timings = chunk["timings"];
      if (frame.prompt_tokens >= 0) record.prompt_tokens = frame.prompt_tokens;
      if (frame.completion_tokens >= 0) record.completion_tokens = frame.completion_tokens;
    }
    return true;
  };

  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  const bool sent = client.send(req, res, error);
  record.total_ms = ms_since(start);
  if (status == 0) status = res.status;
  if (!record.error.empty()) {
    record.ok = false;
  } else if (!sent && status == 0) {
    record.error = "cannot reach the comparison server (" + httplib::to_string(error) + ")";
  } else if (status != 200) {
    record.error = error_message(error_body.empty() ? res.body : error_body, status);
    if (!attempts.empty()) record.error += " (attempts: " + attempts + ")";
  } else if (!done) {
    record.error = "the stream ended before [DONE]";
  } else {
    record.ok = true;
  }
  if (!record.ok) return;

  record.queue_ms = number_or(timings, "queue_ms", -1);
  record.prompt_tps = number_or(timings, "prompt_per_second", -1);
  const double server_tps = number_or(timings, "predicted_per_second", -1);
  if (server_tps > 0) {
    record.generation_tps = server_tps;
    record.generation_tps_from_server = true;
  } else if (record.ttft_ms >= 0 && record.total_ms > record.ttft_ms) {
    // Without server timings (a remote target), the tokens after the first over the time they
    // took; without usage, content chunks stand in for tokens (one token each on OpenAI's API).
    const double tokens = record.completion_tokens >= 0
                              ? static_cast<double>(record.completion_tokens)
                              : static_cast<double>(content_chunks);
    if (tokens > 1) {
      record.generation_tps = (tokens - 1) / ((record.total_ms - record.ttft_ms) / 1000.0);
    }
  }
}

}  // namespace hearth::cli
