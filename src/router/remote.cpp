// One try of a routed request against a remote OpenAI-compatible target: its replicas in
// order of fewest requests outstanding, the next replica when one fails before its first
// byte. A streamed reply is held only until its first content chunk (so a failure before it
// can still fall back), then passed through event by event as the upstream sends them.
#include <algorithm>
#include <cstdio>

#include "router/attempt_util.h"
#include "router/sse.h"

namespace hearth::router {
namespace {

std::string upstream_path(server::RoutedApi api) {
  switch (api) {
    case server::RoutedApi::kChat: return "/chat/completions";
    case server::RoutedApi::kCompletion: return "/completions";
    case server::RoutedApi::kEmbeddings: return "/embeddings";
  }
  return "/chat/completions";
}

// The upstream's error message, when its body is an OpenAI error object.
std::string error_message(const std::string& body, std::string* code) {
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object()) {
    const auto& e = j["error"];
    if (code && e.contains("code") && e["code"].is_string()) *code = e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) return e["message"].get<std::string>();
  }
  return body.substr(0, 200);
}

struct RemoteStream {
  std::shared_ptr<UpstreamCall> call;
  std::unique_ptr<Outcome> outcome;
  Target* target = nullptr;
  SseReader reader;
  std::string pending;
  bool done = false;
  double ttft_ms = -1;
  int64_t prompt_tokens = 0, completion_tokens = 0, content_chunks = 0;
  std::shared_ptr<void> in_flight;

  void count(const SseFrame& f) {
    if (f.has_content) ++content_chunks;
    if (f.prompt_tokens >= 0) prompt_tokens = f.prompt_tokens;
    if (f.completion_tokens >= 0) completion_tokens = f.completion_tokens;
  }
  void finish_ok() {
    // Without a usage chunk, each content chunk is counted as one token (what OpenAI sends).
    outcome->ok(ttft_ms, prompt_tokens, completion_tokens > 0 ? completion_tokens : content_chunks);
  }

  bool produce(http::StreamWriter& out) {
    if (!pending.empty()) {
      std::string chunk = std::move(pending);
      pending.clear();
      if (!out.write(chunk)) return false;
      return !done;
    }
    if (done) return false;
    auto event = call->next(kPoll);
    if (!event) return !out.client_gone();
    if (event->kind == UpstreamEvent::Kind::kHeaders) return true;
    if (event->kind == UpstreamEvent::Kind::kDone) {
      outcome->fail("closed mid-stream" + (event->error.empty() ? "" : ": " + event->error));
      out.write(midstream_error("The upstream closed the stream before it finished" +
                                (event->error.empty() ? std::string() : ": " + event->error)));
      return false;
    }
    std::string chunk;
    for (auto& f : reader.feed(event->data)) {
      if (f.kind == SseFrame::Kind::kData) {
        count(f);
        chunk += sse_event(f.payload);
        continue;
      }
      if (f.kind == SseFrame::Kind::kDone) {
        finish_ok();
        chunk += "data: [DONE]\n\n";
      } else {
        outcome->fail("failed mid-stream: " + f.payload);
        chunk += midstream_error("The upstream failed after the answer began: " + f.payload);
      }
      done = true;
      call->cancel();
      break;
    }
    if (!chunk.empty() && !out.write(chunk)) return false;
    return !done;
  }
};

// What a replica answered before any byte went to the client.
AttemptResult try_replica(RouterState& state, Target& target, Replica& replica,
                          const std::string& endpoint, RoutedRequest& request,
                          std::unique_ptr<Outcome>& outcome) {
  const FallbackConfig& fb = state.config.fallback;
  json body = request.body;
  body["model"] = target.config.model;
  UpstreamRequest up;
  up.url = replica.base_url + upstream_path(request.api);
  up.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  up.headers.push_back("Content-Type: application/json");
  if (request.stream) up.headers.push_back("Accept: text/event-stream");
  if (!target.api_key.empty()) up.headers.push_back("Authorization: Bearer " + target.api_key);
  up.connect_timeout_ms = std::min(fb.first_token_timeout_ms, 10000);
  up.total_timeout_ms = static_cast<long>(fb.request_timeout_s) * 1000;
  const auto started = Clock::now();
  const auto first_deadline = started + milliseconds(fb.first_token_timeout_ms);
  auto call = state.upstream->start(std::move(up));

  int status = 0, retry_after = 0;
  std::string error_body;
  auto rs = std::make_shared<RemoteStream>();
  rs->call = call;
  rs->target = &target;
  bool committed = false;
  for (;;) {
    auto event = call->next(kPoll);
    if (!event && request.http->client_gone()) {
      call->cancel();
      outcome->release();
      return failure(
          request, endpoint, Failure::kCancelled, "cancelled",
          {.status = 499, .message = "The client closed the connection.", .code = "cancelled"});
    }
    // Before the first content (streamed) or the whole body (not streamed); checked on every
    // turn so that an upstream sending only keep-alive comments still times out.
    if (Clock::now() > first_deadline) {
      call->cancel();
      outcome->fail("timeout: no first token within first_token_timeout_ms");
      return failure(request, endpoint, Failure::kTimeout, "timeout",
                     upstream_error(504, endpoint + " sent no answer within " +
                                             std::to_string(fb.first_token_timeout_ms) + " ms"));
    }
    if (!event) continue;
    if (event->kind == UpstreamEvent::Kind::kHeaders) {
      status = event->status;
      retry_after = event->retry_after_s;
      continue;
    }
    if (event->kind == UpstreamEvent::Kind::kData) {
      if (status != 200 || !request.stream) {
        if (error_body.size() < (64u << 20)) error_body += event->data;
        continue;
      }
      for (auto& f : rs->reader.feed(event->data)) {
        if (f.kind == SseFrame::Kind::kData) {
          rs->count(f);
          rs->pending += sse_event(f.payload);
          if (f.has_content) committed = true;
        } else if (f.kind == SseFrame::Kind::kDone) {
          rs->pending += "data: [DONE]\n\n";
          rs->done = true;
          committed = true;
        } else {
          call->cancel();
          outcome->fail("bad reply: " + f.payload);
          return failure(request, endpoint, Failure::kBadReply, "bad_reply",
                         upstream_error(502, endpoint + ": " + f.payload));
        }
        if (rs->done) break;
      }
      if (!committed) continue;
      if (rs->ttft_ms < 0) rs->ttft_ms = ms_since(started);
      if (rs->done) {
        rs->finish_ok();
        call->cancel();
      }
      rs->outcome = std::move(outcome);
      rs->in_flight = request.in_flight;
      http::StreamBody sb;
      sb.produce = [rs](http::StreamWriter& out) { return rs->produce(out); };
      // Called between produce calls (never during one): the transport calls produce only
      // when it will not wait, so a stream waiting for a slow upstream holds no thread.
      sb.poll_ready = [rs](std::function<void()> wake) {
        return !rs->pending.empty() || rs->done || rs->call->poll_ready(std::move(wake));
      };
      // The client left (or the transport gave up): stop the upstream request too.
      sb.on_close = [rs](bool) { rs->call->cancel(); };
      request.attempts.push_back(endpoint + "=200");
      AttemptResult ok;
      ok.label = "200";
      ok.response = http::Response::streamed("text/event-stream", std::move(sb));
      ok.response.headers.set("Cache-Control", "no-cache");
      ok.response.headers.set("X-Accel-Buffering", "no");
      return ok;
    }
    // kDone: the whole reply (not streamed, or an error status), or a failure.
    if (status == 0 || (!event->error.empty() && status == 200)) {
      const bool timed_out = event->timed_out;
      const Failure kind = timed_out ? Failure::kTimeout : Failure::kConnect;
      const std::string label = timed_out ? "timeout" : "connect";
      outcome->fail(label + ": " + event->error);
      return failure(request, endpoint, kind, label,
                     upstream_error(502, endpoint + ": " +
                                             (event->error.empty() ? "no reply" : event->error)));
    }
    if (status == 200 && request.stream) {
      // The stream ended before any content and without [DONE].
      outcome->fail("bad reply: the stream ended without an answer");
      return failure(request, endpoint, Failure::kBadReply, "bad_reply",
                     upstream_error(502, endpoint + " ended its stream without an answer"));
    }
    std::string code;
    const std::string message = error_message(error_body, &code);
    const std::string label = "http_" + std::to_string(status);
    if (status == 429) {
      outcome->fail("HTTP 429: " + message, retry_after);
      return failure(request, endpoint, Failure::kHttp429, label,
                     {.status = 429,
                      .message = endpoint + " is rate limiting: " + message,
                      .type = "rate_limit_error",
                      .code = "rate_limit_exceeded",
                      .retry_after_seconds = retry_after},
                     retry_after);
    }
    if (status == 401 || status == 403) {
      // A refused key will be refused again: cool down (visible in /v1/router/status) so the
      // next requests do not each try it first.
      std::fprintf(stderr,
                   "hearth serve: router target %s refused the API key (HTTP %d); cooling down\n",
                   endpoint.c_str(), status);
      outcome->fail("HTTP " + std::to_string(status) + ": the API key was refused");
      return failure(request, endpoint, Failure::kUnauthorized, label,
                     upstream_error(502, endpoint + " refused the router's API key (HTTP " +
                                             std::to_string(status) + ")"));
    }
    if (status >= 500) {
      outcome->fail("HTTP " + std::to_string(status) + ": " + message);
      return failure(request, endpoint, Failure::kHttp5xx, label,
                     upstream_error(502, endpoint + " failed (HTTP " + std::to_string(status) +
                                             "): " + message));
    }
    if (status != 200) {
      outcome->release();
      if (code == "context_length_exceeded") {
        return failure(request, endpoint, Failure::kContextOverflow, "context_overflow",
                       {.status = 400, .message = message, .code = "context_length_exceeded"});
      }
      return failure(request, endpoint, Failure::kClientError, label,
                     {.status = status >= 400 && status < 500 ? status : 502,
                      .message = endpoint + ": " + message,
                      .code = "upstream_rejected"});
    }
    auto j = json::parse(error_body, nullptr, /*allow_exceptions=*/false);
    const char* expected = request.api == server::RoutedApi::kEmbeddings ? "data" : "choices";
    if (j.is_discarded() || !j.is_object() || !j.contains(expected)) {
      outcome->fail("bad reply: not an OpenAI response");
      return failure(
          request, endpoint, Failure::kBadReply, "bad_reply",
          upstream_error(502, endpoint + " answered with a body that is not an OpenAI response"));
    }
    int64_t prompt = 0, completion = 0;
    if (j.contains("usage") && j["usage"].is_object()) {
      const json& u = j["usage"];
      if (u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer()) {
        prompt = u["prompt_tokens"].get<int64_t>();
      }
      if (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer()) {
        completion = u["completion_tokens"].get<int64_t>();
      }
    }
    outcome->ok(ms_since(started), prompt, completion);
    request.attempts.push_back(endpoint + "=200");
    AttemptResult ok;
    ok.label = "200";
    ok.response = http::Response::json(200, std::move(error_body));  // passed through as sent
    return ok;
  }
}

}  // namespace

AttemptResult attempt_remote(RouterState& state, Target& target, RoutedRequest& request) {
  // Least outstanding requests first; ties keep the configured order.
  std::vector<Replica*> order;
  for (auto& r : target.replicas) order.push_back(&r);
  std::stable_sort(order.begin(), order.end(), [](const Replica* a, const Replica* b) {
    return a->health->in_flight() < b->health->in_flight();
  });
  AttemptResult last;
  bool tried = false;
  for (Replica* replica : order) {
    const std::string& endpoint = replica->health->name();
    const Admission admission = replica->health->try_acquire();
    if (admission == Admission::kCoolingDown || admission == Admission::kProbeInFlight) {
      if (!tried)
        last = failure(request, endpoint, Failure::kCoolingDown, "cooldown",
                       upstream_error(503, endpoint + " is cooling down after a failure"));
      else
        request.attempts.push_back(endpoint + "=cooldown");
      continue;
    }
    tried = true;
    auto outcome = std::make_unique<Outcome>(*replica->health, target);
    AttemptResult result = try_replica(state, target, *replica, endpoint, request, outcome);
    if (result.failure == Failure::kNone || result.failure == Failure::kCancelled ||
        result.failure == Failure::kClientError || result.failure == Failure::kContextOverflow) {
      return result;
    }
    last = std::move(result);  // the next replica, before the next target
  }
  return last;
}

}  // namespace hearth::router
