#include "server/responses_routes.h"

#include <chrono>
#include <cstdio>
#include <random>

#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/openai_routes.h"
#include "server/responses_translate.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 24 random hex digits: the part of "resp_..." that item ids reuse.
std::string new_id_base() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[32];
  std::snprintf(buf, sizeof buf, "%016llx%08llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng() & 0xffffffffULL));
  return buf;
}

ApiError store_unavailable(const ResponsesContext& ctx) {
  return {.status = 503,
          .message = "the response store is unavailable (" + ctx.store_problem +
                     "); send \"store\": false to answer without it",
          .type = "server_error",
          .code = "store_unavailable"};
}

ApiError previous_not_found(const std::string& id) {
  return {.status = 404,
          .message = "Previous response with id '" + id + "' not found.",
          .param = "previous_response_id",
          .code = "previous_response_not_found"};
}

// The chat path names chat fields in its errors; a Responses client sent other names.
http::Response rename_chat_error(http::Response res) {
  json body = json::parse(res.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.contains("error") || !body["error"].is_object()) return res;
  json& param = body["error"]["param"];
  if (!param.is_string()) return res;
  const std::string p = param.get<std::string>();
  if (p == "max_tokens") param = "max_output_tokens";
  if (p.starts_with("messages")) param = "input";
  if (p.starts_with("response_format")) param = "text.format";
  res.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return res;
}

void store_outcome(const ResponsesContext& ctx, const ResponsesRequest& request,
                   const json& history, const ResponseOutcome& outcome) {
  if (!request.store || !ctx.store) return;
  json conversation = history;
  for (const auto& m : request.input) conversation.push_back(m);
  for (const auto& m : outcome.messages) conversation.push_back(m);
  const std::string id = outcome.response.value("id", std::string());
  if (auto s = ctx.store->put(id, outcome.response, conversation); !s) {
    std::fprintf(stderr, "hearth serve: could not store %s: %s\n", id.c_str(),
                 s.error().message.c_str());
  }
}

// Everything a streamed answer needs after the request was accepted.
struct StreamState {
  ResponsesContext ctx;
  ResponsesRequest request;
  json history;
  http::StreamBody chat;  // the chat completions SSE body being translated
  ResponsesStreamTranslator translator;
  ChatSseReader reader;
  bool chat_done = false;
};

// Collects what the chat stream writes, so it can be translated before it is sent.
class CapturingWriter : public http::StreamWriter {
 public:
  explicit CapturingWriter(http::StreamWriter& outer) : outer_(outer) {}
  bool write(std::string_view chunk) override {
    captured.append(chunk);
    return !outer_.client_gone();
  }
  bool client_gone() const override { return outer_.client_gone(); }
  std::string captured;

 private:
  http::StreamWriter& outer_;
};

class ResponsesSseProducer {
 public:
  explicit ResponsesSseProducer(std::shared_ptr<StreamState> state) : state_(std::move(state)) {}

  bool operator()(http::StreamWriter& out) {
    StreamState& s = *state_;
    if (s.translator.finished()) return false;
    CapturingWriter capture(out);
    const bool more = s.chat.produce(capture);
    std::string text;
    for (auto& event : s.reader.feed(capture.captured)) {
      if (s.chat_done) break;
      switch (event.kind) {
        case ChatSseReader::Event::Kind::kChunk: text += s.translator.on_chunk(event.data); break;
        case ChatSseReader::Event::Kind::kError:
          s.translator.on_error(event.data);
          s.chat_done = true;
          break;
        case ChatSseReader::Event::Kind::kDone: s.chat_done = true; break;
      }
    }
    if (!more || s.chat_done) {
      text += s.translator.finish();
      // A client that left gets no Response to continue from: its output was cut short.
      if (!out.client_gone()) store_outcome(s.ctx, s.request, s.history, s.translator.outcome());
    }
    return out.write(text) && !s.translator.finished();
  }

 private:
  std::shared_ptr<StreamState> state_;
};

http::Response create_response(const http::Request& req, const ResponsesContext& ctx) {
  auto body = parse_json_body(req.body);
  if (!body) return error_response(body.error());
  auto request = parse_responses_request(*body);
  if (!request) return error_response(request.error());

  json history = json::array();
  if (!request->previous_response_id.empty()) {
    if (!ctx.store) return error_response(store_unavailable(ctx));
    auto previous = ctx.store->get(request->previous_response_id);
    if (!previous) {
      if (previous.error().kind == ErrorKind::kNotFound) {
        return error_response(previous_not_found(request->previous_response_id));
      }
      return error_response(api_error_from(previous.error()));
    }
    history = std::move(previous->conversation);
  }
  if (request->store && !ctx.store) return error_response(store_unavailable(ctx));

  http::Request chat_req;
  chat_req.method = "POST";
  chat_req.path = "/v1/chat/completions";
  chat_req.headers = req.headers;
  chat_req.client_gone_check = req.client_gone_check;
  chat_req.body =
      build_chat_request(*request, history).dump(-1, ' ', false, json::error_handler_t::replace);
  http::Response chat =
      run_chat_completion(chat_req, *ctx.registry, *ctx.metrics, ctx.model_router);
  if (chat.status != 200) return rename_chat_error(std::move(chat));

  const std::string id_base = new_id_base();
  json skeleton = response_skeleton(*request, "resp_" + id_base, unix_now(), request->model);

  if (!chat.stream) {
    json completion = json::parse(chat.body, nullptr, /*allow_exceptions=*/false);
    if (completion.is_discarded()) {
      return error_response(internal_error("the chat completion was not JSON"));
    }
    auto outcome = response_from_chat_completion(std::move(skeleton), completion, id_base);
    if (!outcome) return error_response(outcome.error());
    store_outcome(ctx, *request, history, *outcome);
    http::Response res = json_response(200, outcome->response);
    for (const auto& [name, value] : chat.headers.fields()) res.headers.set(name, value);
    return res;
  }

  auto state = std::make_shared<StreamState>(
      StreamState{ctx, std::move(*request), std::move(history), std::move(*chat.stream),
                  ResponsesStreamTranslator(std::move(skeleton), id_base), ChatSseReader{}, false});
  http::StreamBody body_out;
  body_out.produce = ResponsesSseProducer(state);
  body_out.on_close = [state](bool completed) {
    if (state->chat.on_close) state->chat.on_close(completed);
  };
  if (state->chat.poll_ready) {
    body_out.poll_ready = [state](std::function<void()> wake) {
      return state->chat.poll_ready(std::move(wake));
    };
  }
  http::Response res = http::Response::streamed("text/event-stream", std::move(body_out));
  for (const auto& [name, value] : chat.headers.fields()) res.headers.set(name, value);
  res.headers.set("Cache-Control", "no-cache");
  res.headers.set("X-Accel-Buffering", "no");
  return res;
}

// The id from "/v1/responses/{id}"; empty when the path has more segments.
std::string response_id(const http::Request& req) {
  const std::string& id = req.path_remainder;
  return id.find('/') == std::string::npos ? id : std::string();
}

ApiError response_not_found(const std::string& id) {
  return {.status = 404,
          .message = "Response with id '" + id + "' not found.",
          .param = "response_id",
          .code = "not_found"};
}

}  // namespace

void register_responses_routes(http::Router& router, ResponsesContext ctx) {
  router.post("/v1/responses", [ctx](http::Request& req) { return create_response(req, ctx); });

  router.get("/v1/responses/*", [ctx](http::Request& req) {
    const std::string id = response_id(req);
    if (id.empty()) return error_response(not_found_route(req.method, req.path));
    if (!ctx.store) return error_response(store_unavailable(ctx));
    auto stored = ctx.store->get(id);
    if (!stored) {
      if (stored.error().kind == ErrorKind::kNotFound) {
        return error_response(response_not_found(id));
      }
      return error_response(api_error_from(stored.error()));
    }
    return json_response(200, stored->response);
  });

  router.add("DELETE", "/v1/responses/*", [ctx](http::Request& req) {
    const std::string id = response_id(req);
    if (id.empty()) return error_response(not_found_route(req.method, req.path));
    if (!ctx.store) return error_response(store_unavailable(ctx));
    auto removed = ctx.store->remove(id);
    if (!removed) return error_response(api_error_from(removed.error()));
    if (!*removed) return error_response(response_not_found(id));
    return json_response(200, {{"id", id}, {"object", "response.deleted"}, {"deleted", true}});
  });
}

}  // namespace hearth::server
