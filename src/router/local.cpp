// One try of a routed request against a local target, through the registry's Backend. A try
// "commits" when the first token reaches it; only then is a Response returned, so every
// failure before that point can still fall back to the next target.
#include <algorithm>
#include <cstdio>
#include <optional>

#include "router/attempt_util.h"
#include "router/router_internal.h"
#include "router/sse.h"
#include "server/chat_reply.h"
#include "server/openai_routes.h"
#include "server/served_model.h"

namespace hearth::router {
namespace {

// ---- local targets ----

Failure classify_local(const server::ApiError& e) {
  if (e.code == "context_length_exceeded") return Failure::kContextOverflow;
  if (e.code == "server_busy" || e.status == 429) return Failure::kOverloaded;
  if (e.status == 499) return Failure::kCancelled;
  if (e.status >= 500) return Failure::kHttp5xx;
  return Failure::kClientError;
}

std::string local_label(Failure f, const server::ApiError& e) {
  switch (f) {
    case Failure::kContextOverflow: return "context_overflow";
    case Failure::kOverloaded: return "overloaded";
    case Failure::kTimeout: return "timeout";
    default: return std::to_string(e.status);
  }
}

json local_usage(const server::StreamEvent& done) {
  return {{"prompt_tokens", done.prompt_tokens},
          {"completion_tokens", done.completion_tokens},
          {"total_tokens", done.prompt_tokens + done.completion_tokens}};
}

std::string base64_floats(const std::vector<float>& values) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
  const size_t n = values.size() * sizeof(float);
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (i + 1 < n ? uint32_t{bytes[i + 1]} << 8 : 0) |
                       (i + 2 < n ? uint32_t{bytes[i + 2]} : 0);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// The chunks of a local answer, in the shape of /v1/chat/completions (or /v1/completions).
struct LocalShape {
  bool chat = true;
  std::string id, model;
  int64_t created = 0;
  bool include_usage = false;

  std::string chunk(const std::string& text, const json& finish, bool role = false) const {
    if (chat) {
      json delta = json::object();
      if (role) delta["role"] = "assistant";
      if (!text.empty() || role) delta["content"] = text;
      return delta_chunk(std::move(delta), finish);
    }
    return choice_chunk(
        {{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish}});
  }
  // Chat: one chunk with this delta (server::chat_delta's shapes).
  std::string delta_chunk(json delta, const json& finish = nullptr) const {
    return choice_chunk({{"index", 0},
                         {"delta", std::move(delta)},
                         {"logprobs", nullptr},
                         {"finish_reason", finish}});
  }
  // The chunks of a reply parser's events; empty while the parser holds text back.
  std::string event_chunks(const std::vector<server::ToolCallEvent>& events) const {
    std::string out;
    for (const auto& e : events) out += delta_chunk(server::chat_delta(e));
    return out;
  }
  json envelope(json choice) const {
    return {{"id", id},
            {"object", chat ? "chat.completion.chunk" : "text_completion"},
            {"created", created},
            {"model", model},
            {"choices", json::array({std::move(choice)})}};
  }
  std::string choice_chunk(json choice) const {
    return sse_event(
        envelope(std::move(choice)).dump(-1, ' ', false, json::error_handler_t::replace));
  }
  std::string finish(const server::StreamEvent& done, const std::string& reason) const {
    // The timings ride on the last event before [DONE], as on the chat route.
    const bool timed = done.timings.present;
    std::string out;
    if (timed && !include_usage) {
      json choice =
          chat ? json{{"index", 0},
                      {"delta", json::object()},
                      {"logprobs", nullptr},
                      {"finish_reason", reason}}
               : json{{"index", 0}, {"text", ""}, {"logprobs", nullptr}, {"finish_reason", reason}};
      json c = envelope(std::move(choice));
      c["timings"] = server::timings_json(done.timings);
      out = sse_event(c.dump(-1, ' ', false, json::error_handler_t::replace));
    } else {
      out = chunk("", reason);
    }
    if (include_usage) {
      json u = {{"id", id},
                {"object", chat ? "chat.completion.chunk" : "text_completion"},
                {"created", created},
                {"model", model},
                {"choices", json::array()},
                {"usage", local_usage(done)}};
      if (timed) u["timings"] = server::timings_json(done.timings);
      out += sse_event(u.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    return out + "data: [DONE]\n\n";
  }
};

struct LocalStream {
  std::shared_ptr<server::RequestStream> stream;
  std::shared_ptr<server::Backend> backend;  // keeps the model loaded while it streams
  std::unique_ptr<Outcome> outcome;
  Target* target = nullptr;
  LocalShape shape;
  std::string pending;
  // Chat: reasoning and tool calls split out of the text, as the chat route does.
  std::optional<server::ToolCallParser> parser;
  Clock::time_point started;
  double ttft_ms = -1;
  std::shared_ptr<void> in_flight;

  bool produce(http::StreamWriter& out) {
    if (!pending.empty()) {
      std::string chunk = std::move(pending);
      pending.clear();
      return out.write(chunk);
    }
    for (auto waited = milliseconds(0); waited < milliseconds(100); waited += milliseconds(20)) {
      auto event = stream->next(milliseconds(20));
      if (!event) {
        if (out.client_gone()) return false;
        continue;
      }
      if (event->kind == server::StreamEvent::Kind::kText) {
        const std::string chunk = text_chunks(event->text);
        return chunk.empty() || out.write(chunk);
      }
      if (event->kind == server::StreamEvent::Kind::kError) {
        outcome->fail("failed mid-stream: " + event->error.message);
        out.write(midstream_error("The local model failed after the answer began: " +
                                  event->error.message));
        return false;
      }
      outcome->ok(ttft_ms, event->prompt_tokens, event->completion_tokens);
      const double total = ms_since(started);
      const double avg = target->avg_duration_ms.load();
      target->avg_duration_ms.store(avg == 0 ? total : avg * 0.8 + total * 0.2);
      out.write(finish_chunks(*event));
      return false;
    }
    return true;
  }

  std::string text_chunks(const std::string& text) {
    return parser ? shape.event_chunks(parser->feed(text)) : shape.chunk(text, nullptr);
  }
  std::string finish_chunks(const server::StreamEvent& done) {
    if (!parser) return shape.finish(done, std::string(finish_reason_name(done.finish)));
    const std::string rest = shape.event_chunks(parser->finish());
    return rest + shape.finish(done, server::chat_finish_reason(done.finish, parser->calls()));
  }
};

}  // namespace

AttemptResult attempt_local(RouterState& state, Target& target, RoutedRequest& request) {
  const std::string& name = target.config.name;
  EndpointHealth& health = *target.replicas[0].health;
  const Admission admission = health.try_acquire();
  if (admission == Admission::kCoolingDown || admission == Admission::kProbeInFlight) {
    return failure(request, name, Failure::kCoolingDown, "cooldown",
                   upstream_error(503, name + " is cooling down after a failure"));
  }
  auto outcome = std::make_unique<Outcome>(health, target);
  if (!state.registry) {
    return failure(request, name, Failure::kConnect, "unavailable",
                   upstream_error(503, "no registry"));
  }
  auto backend = state.registry->acquire(target.config.model);
  if (!backend) {
    outcome->fail("cannot load " + target.config.model + ": " + backend.error().message);
    return failure(request, name, Failure::kConnect, "unavailable", backend.error());
  }
  // Overloaded: the queue ahead of this request would take longer than overload_queue_ms at
  // the model's recent request duration.
  if (auto served = std::dynamic_pointer_cast<server::ServedModel>(*backend)) {
    const int slots = std::max(1, served->scheduler().n_slots());
    const int queued = (*backend)->health().in_flight - slots;
    const double wait_ms = queued > 0 ? queued * target.avg_duration_ms.load() / slots : 0;
    if (wait_ms > state.config.fallback.overload_queue_ms) {
      outcome->release();
      return failure(request, name, Failure::kOverloaded, "overloaded", server::server_busy(1));
    }
  }
  json body = request.body;
  body["model"] = (*backend)->id();
  const auto started = Clock::now();

  if (request.api == server::RoutedApi::kEmbeddings) {
    auto parsed = server::parse_embedding_request(body);
    if (!parsed) return failure(request, name, Failure::kClientError, "400", parsed.error());
    auto result = (*backend)->embed(*parsed);
    if (!result) {
      const Failure f = classify_local(result.error());
      if (f == Failure::kHttp5xx)
        outcome->fail(result.error().message);
      else
        outcome->release();
      return failure(request, name, f, local_label(f, result.error()), result.error());
    }
    outcome->ok(-1, result->prompt_tokens, 0);
    json data = json::array();
    for (size_t i = 0; i < result->vectors.size(); ++i) {
      json item = {{"object", "embedding"}, {"index", i}};
      if (parsed->base64)
        item["embedding"] = base64_floats(result->vectors[i]);
      else
        item["embedding"] = result->vectors[i];
      data.push_back(std::move(item));
    }
    request.attempts.push_back(name + "=200");
    AttemptResult ok;
    ok.label = "200";
    ok.response = server::json_response(
        200,
        {{"object", "list"},
         {"data", std::move(data)},
         {"model", (*backend)->id()},
         {"usage",
          {{"prompt_tokens", result->prompt_tokens}, {"total_tokens", result->prompt_tokens}}}});
    return ok;
  }

  server::ApiResult<std::shared_ptr<server::RequestStream>> stream =
      server::api_fail(server::internal_error("unreachable"));
  std::optional<server::ToolCallParser> parser;
  if (request.api == server::RoutedApi::kChat) {
    auto parsed = server::parse_chat_request(body);
    if (!parsed) return failure(request, name, Failure::kClientError, "400", parsed.error());
    stream = (*backend)->chat(*parsed);
    if (stream) parser.emplace(server::make_reply_parser(*parsed, (*stream)->reply_syntax));
  } else {
    auto parsed = server::parse_completion_request(body);
    if (!parsed) return failure(request, name, Failure::kClientError, "400", parsed.error());
    stream = (*backend)->complete(*parsed);
  }
  if (!stream) {
    const Failure f = classify_local(stream.error());
    if (f == Failure::kHttp5xx)
      outcome->fail(stream.error().message);
    else
      outcome->release();
    return failure(request, name, f, local_label(f, stream.error()), stream.error());
  }

  LocalShape shape;
  shape.chat = request.api == server::RoutedApi::kChat;
  shape.model = (*backend)->id();
  shape.created = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  shape.id = (shape.chat ? "chatcmpl-" : "cmpl-") +
             std::to_string(Clock::now().time_since_epoch().count());
  shape.include_usage = request.include_usage;

  // Wait for the first event (the first token) or the first-token timeout.
  const auto first_deadline = started + milliseconds(state.config.fallback.first_token_timeout_ms);
  std::string text;
  server::ChatMessage message;
  double ttft_ms = -1;
  for (;;) {
    auto event = (*stream)->next(kPoll);
    if (!event) {
      if (request.http->client_gone()) {
        (*stream)->cancel();
        return failure(
            request, name, Failure::kCancelled, "cancelled",
            {.status = 499, .message = "The client closed the connection.", .code = "cancelled"});
      }
      if (ttft_ms < 0 && Clock::now() > first_deadline) {
        (*stream)->cancel();
        outcome->fail("no first token within first_token_timeout_ms");
        return failure(request, name, Failure::kTimeout, "timeout",
                       upstream_error(504, name + " sent no first token in time"));
      }
      continue;
    }
    if (event->kind == server::StreamEvent::Kind::kError) {
      const Failure f = classify_local(event->error);
      if (f == Failure::kHttp5xx)
        outcome->fail(event->error.message);
      else
        outcome->release();
      return failure(request, name, f, local_label(f, event->error), event->error);
    }
    if (ttft_ms < 0) ttft_ms = ms_since(started);
    if (request.stream) {
      // Commit: from here on the client receives this model's answer.
      auto ls = std::make_shared<LocalStream>();
      ls->stream = *stream;
      ls->backend = *backend;
      ls->outcome = std::move(outcome);
      ls->target = &target;
      ls->shape = shape;
      ls->started = started;
      ls->ttft_ms = ttft_ms;
      ls->in_flight = request.in_flight;
      if (parser) ls->parser.emplace(std::move(*parser));
      ls->pending = shape.chunk("", nullptr, /*role=*/shape.chat);
      if (event->kind == server::StreamEvent::Kind::kText) {
        ls->pending += ls->text_chunks(event->text);
      } else {
        ls->outcome->ok(ttft_ms, event->prompt_tokens, event->completion_tokens);
        ls->pending += ls->finish_chunks(*event);
        ls->stream.reset();
      }
      http::StreamBody body_stream;
      body_stream.produce = [ls](http::StreamWriter& out) {
        if (!ls->stream) {  // the whole answer is pending
          out.write(ls->pending);
          return false;
        }
        return ls->produce(out);
      };
      body_stream.on_close = [ls](bool) {
        if (ls->stream) ls->stream->cancel();
      };
      // Called between produce calls (never during one): see remote.cpp.
      body_stream.poll_ready = [ls](std::function<void()> wake) {
        return !ls->pending.empty() || !ls->stream || ls->stream->poll_ready(std::move(wake));
      };
      request.attempts.push_back(name + "=200");
      AttemptResult ok;
      ok.label = "200";
      ok.response = http::Response::streamed("text/event-stream", std::move(body_stream));
      ok.response.headers.set("Cache-Control", "no-cache");
      ok.response.headers.set("X-Accel-Buffering", "no");
      return ok;
    }
    if (event->kind == server::StreamEvent::Kind::kText) {
      if (parser) {
        message.absorb(parser->feed(event->text));
      } else {
        text += event->text;
      }
      continue;
    }
    // kDone of a whole (non-streamed) answer.
    outcome->ok(ttft_ms, event->prompt_tokens, event->completion_tokens);
    const double total = ms_since(started);
    const double avg = target.avg_duration_ms.load();
    target.avg_duration_ms.store(avg == 0 ? total : avg * 0.8 + total * 0.2);
    json choice;
    if (parser) {
      message.absorb(parser->finish());
      choice = {{"index", 0},
                {"message", message.to_json()},
                {"logprobs", nullptr},
                {"finish_reason", server::chat_finish_reason(event->finish, parser->calls())}};
    } else {
      const std::string finish(finish_reason_name(event->finish));
      choice =
          shape.chat
              ? json{{"index", 0},
                     {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
                     {"logprobs", nullptr},
                     {"finish_reason", finish}}
              : json{
                    {"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish}};
    }
    request.attempts.push_back(name + "=200");
    AttemptResult ok;
    ok.label = "200";
    json reply = {{"id", shape.id},
                  {"object", shape.chat ? "chat.completion" : "text_completion"},
                  {"created", shape.created},
                  {"model", shape.model},
                  {"choices", json::array({choice})},
                  {"usage", local_usage(*event)}};
    if (event->timings.present) reply["timings"] = server::timings_json(event->timings);
    ok.response = server::json_response(200, reply);
    return ok;
  }
}

}  // namespace hearth::router
