// Ollama's generation and embedding routes; the model-management ones are in
// ollama_model_routes.cpp. The JSON mapping itself is ollama_translate.cpp.
#include "server/ollama_routes.h"

#include <chrono>
#include <optional>

#include "hearth/version.h"
#include "server/chat_reply.h"
#include "server/ollama_translate.h"
#include "server/openai_request.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;
namespace ol = ollama;

int64_t ns_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

std::string now_rfc3339() {
  return ol::rfc3339(std::chrono::system_clock::now());
}

// A backend found for an Ollama name, and how long finding it took (a load, when it was
// not loaded yet: Ollama's load_duration).
struct Acquired {
  std::shared_ptr<Backend> backend;
  int64_t load_ns = 0;
};

// Tries each spelling of `name` (ollama::name_candidates); only "not found" moves on to the
// next one, so a real failure (out of memory, a broken file) is reported as it is.
ApiResult<Acquired> acquire_named(ModelRegistry& registry, const std::string& name) {
  const auto start = Clock::now();
  if (name.empty()) {
    auto any = registry.acquire("");
    if (!any) return api_fail(any.error());
    return Acquired{*any, ns_between(start, Clock::now())};
  }
  std::optional<ApiError> first_error;
  for (const auto& candidate : ol::name_candidates(name)) {
    auto found = registry.acquire(candidate);
    if (found) return Acquired{*found, ns_between(start, Clock::now())};
    if (found.error().status != 404) return api_fail(found.error());
    if (!first_error) first_error = found.error();
  }
  ApiError error = first_error.value_or(model_not_found(name));
  error.message = "model \"" + name + "\" not found: " + error.message;
  return api_fail(std::move(error));
}

// keep_alive applies to models loaded on demand (they have a TTL); models given with -m stay.
bool has_ttl(const ModelRegistry& registry, const std::string& id) {
  for (const auto& m : registry.loaded()) {
    if (m.id == id) return m.ttl_seconds > 0;
  }
  return false;
}

// Sets the TTL that keep_alive asked for; true when the model should go right after the
// answer (keep_alive 0).
bool apply_keep_alive(ModelRegistry& registry, const std::string& id,
                      const std::optional<ol::KeepAlive>& keep_alive) {
  if (!keep_alive || !has_ttl(registry, id)) return false;
  if (keep_alive->seconds == 0) return true;
  const int ttl = keep_alive->seconds == ol::KeepAlive::kForever ? 0 : keep_alive->seconds;
  (void)registry.load(id, ttl);
  return false;
}

// Everything one Ollama generation needs while it answers.
struct Generation {
  bool chat = true;
  std::string model_name;  // as the client named it, echoed in every chunk
  std::shared_ptr<Backend> backend;
  std::shared_ptr<RequestStream> stream;
  // Chat: splits reasoning and tool calls out of the text, as /v1/chat/completions does.
  std::optional<ToolCallParser> reply_parser;
  Clock::time_point start;
  Clock::time_point submitted;
  std::optional<Clock::time_point> first_token;
  int64_t load_ns = 0;
  ModelRegistry* registry = nullptr;
  bool unload_after = false;
  std::shared_ptr<void> in_flight;
  Metrics* metrics = nullptr;

  // Drops this request's hold on the model and unloads it when keep_alive was 0.
  void release() {
    if (!backend) return;
    const std::string id = backend->id();
    backend.reset();
    if (unload_after && registry) (void)registry->unload(id, /*force=*/false);
  }

  ol::Timings timings(Clock::time_point done) const {
    ol::Timings t;
    t.total_ns = ns_between(start, done);
    t.load_ns = load_ns;
    const auto first = first_token.value_or(done);
    t.prompt_eval_ns = ns_between(submitted, first);
    t.eval_ns = ns_between(first, done);
    return t;
  }

  // The OpenAI message (or delta) of some generated text: with a reply parser, reasoning and
  // whole tool calls come out as they complete; text a marker may still claim waits.
  json delta_of(const std::string& text) {
    if (!reply_parser) return {{"content", text}};
    ChatMessage delta;
    delta.absorb(reply_parser->feed(text));
    return delta.empty() ? json() : delta.to_json();
  }
  // What the parser still held when the generation ended.
  json rest() {
    if (!reply_parser) return json::object();
    ChatMessage delta;
    delta.absorb(reply_parser->finish());
    return delta.to_json();
  }

  json chunk(const json& openai_delta) const {
    const json message = ol::ollama_message(openai_delta);
    return chat ? ol::chat_chunk(model_name, now_rfc3339(), message)
                : ol::generate_chunk(model_name, now_rfc3339(), message);
  }

  json final_chunk(const StreamEvent& done, const json& openai_message) const {
    json c = chunk(openai_message);
    ol::add_final_fields(c, done, timings(Clock::now()));
    return c;
  }
};

std::string line(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

// The next event, checking `alive` every 100 ms; nullopt when it says the client is gone.
std::optional<StreamEvent> next_event(RequestStream& stream, const std::function<bool()>& alive) {
  for (;;) {
    if (auto e = stream.next(std::chrono::milliseconds(100))) return e;
    if (!alive()) return std::nullopt;
  }
}

http::Response respond_whole(Generation& g, const http::Request& req) {
  std::string content;
  ChatMessage message;
  for (;;) {
    auto event = next_event(*g.stream, [&] { return !req.client_gone(); });
    if (!event) {
      g.stream->cancel();
      g.release();
      return ollama_error(
          {.status = 499, .message = "the client closed the connection", .code = "cancelled"});
    }
    if (event->kind == StreamEvent::Kind::kText) {
      if (!g.first_token) g.first_token = Clock::now();
      if (g.reply_parser) {
        message.absorb(g.reply_parser->feed(event->text));
      } else {
        content += event->text;
      }
      continue;
    }
    if (event->kind == StreamEvent::Kind::kError) {
      ++g.metrics->requests_failed;
      g.release();
      return ollama_error(event->error);
    }
    json reply = {{"role", "assistant"}, {"content", content}};
    if (g.reply_parser) {
      message.absorb(g.reply_parser->finish());
      reply = message.to_json();
    }
    json body = g.final_chunk(*event, reply);
    g.release();
    return json_response(200, body);
  }
}

http::Response respond_streaming(std::shared_ptr<Generation> g) {
  http::StreamBody body;
  body.produce = [g](http::StreamWriter& out) {
    auto event = next_event(*g->stream, [&] { return !out.client_gone(); });
    if (!event) return false;
    if (event->kind == StreamEvent::Kind::kText) {
      if (!g->first_token) g->first_token = Clock::now();
      const json delta = g->delta_of(event->text);
      return delta.is_null() || out.write(line(g->chunk(delta)));
    }
    if (event->kind == StreamEvent::Kind::kError) {
      ++g->metrics->requests_failed;
      out.write(line(ol::error_body(event->error)));
      return false;
    }
    out.write(line(g->final_chunk(*event, g->rest())));
    return false;
  };
  body.on_close = [g](bool) {
    g->stream->cancel();
    g->release();
  };
  body.poll_ready = [g](std::function<void()> wake) {
    return g->stream->poll_ready(std::move(wake));
  };
  http::Response res = http::Response::streamed("application/x-ndjson", std::move(body));
  res.headers.set("Cache-Control", "no-cache");
  res.headers.set("X-Accel-Buffering", "no");
  return res;
}

// A request with nothing to generate loads the model (or, with keep_alive 0, unloads it),
// as Ollama does: clients use it to warm a model up.
http::Response respond_load(ModelRegistry& registry, bool chat, const std::string& name,
                            Acquired acquired, const std::optional<ol::KeepAlive>& keep_alive) {
  const std::string id = acquired.backend->id();
  const bool unload = apply_keep_alive(registry, id, keep_alive);
  acquired.backend.reset();
  if (unload) (void)registry.unload(id, /*force=*/false);
  const json message = {{"role", "assistant"}, {"content", ""}};
  json body = chat ? ol::chat_chunk(name, now_rfc3339(), message)
                   : ol::generate_chunk(name, now_rfc3339(), message);
  body["done"] = true;
  body["done_reason"] = unload ? "unload" : "load";
  return json_response(200, body);
}

http::Response handle_generation(bool chat, const http::Request& req, ModelRegistry& registry,
                                 Metrics& metrics) {
  auto g = std::make_shared<Generation>();
  g->start = Clock::now();
  g->chat = chat;
  g->registry = &registry;
  g->metrics = &metrics;
  ++metrics.requests_total;
  ++metrics.requests_in_flight;
  g->in_flight =
      std::shared_ptr<void>(nullptr, [&metrics](void*) { --metrics.requests_in_flight; });
  auto fail_with = [&](const ApiError& e) {
    ++metrics.requests_failed;
    return ollama_error(e);
  };

  auto body = parse_json_body(req.body);
  if (!body) return fail_with(body.error());
  auto translated = chat ? ol::translate_chat(*body) : ol::translate_generate(*body);
  if (!translated) return fail_with(translated.error());
  g->model_name = translated->model;
  auto acquired = acquire_named(registry, translated->model);
  if (!acquired) return fail_with(acquired.error());
  if (g->model_name.empty()) g->model_name = ol::served_name(acquired->backend->id());
  if (translated->load_only) {
    return respond_load(registry, chat, g->model_name, std::move(*acquired),
                        translated->keep_alive);
  }
  g->backend = acquired->backend;
  g->load_ns = acquired->load_ns;
  translated->openai["model"] = g->backend->id();

  ApiResult<std::shared_ptr<RequestStream>> stream;
  if (translated->completion) {
    auto request = parse_completion_request(translated->openai);
    if (!request) return fail_with(request.error());
    request->context_limit = translated->num_ctx;
    stream = g->backend->complete(*request);
  } else {
    auto request = parse_chat_request(translated->openai);
    if (!request) return fail_with(request.error());
    request->context_limit = translated->num_ctx;
    stream = g->backend->chat(*request);
    if (stream) g->reply_parser.emplace(make_reply_parser(*request, (*stream)->reply_syntax));
  }
  if (!stream) {
    g->release();
    return fail_with(stream.error());
  }
  g->stream = *stream;
  g->submitted = Clock::now();
  // Only a request that was accepted changes how long the model stays.
  g->unload_after = apply_keep_alive(registry, g->backend->id(), translated->keep_alive);
  if (translated->stream) return respond_streaming(g);
  return respond_whole(*g, req);
}

http::Response handle_embed(bool legacy, const http::Request& req, ModelRegistry& registry,
                            Metrics& metrics) {
  const auto start = Clock::now();
  ++metrics.requests_total;
  auto fail_with = [&](const ApiError& e) {
    ++metrics.requests_failed;
    return ollama_error(e);
  };
  auto body = parse_json_body(req.body);
  if (!body) return fail_with(body.error());
  auto translated = ol::translate_embed(*body, legacy);
  if (!translated) return fail_with(translated.error());
  auto acquired = acquire_named(registry, translated->model);
  if (!acquired) return fail_with(acquired.error());
  translated->openai["model"] = acquired->backend->id();
  auto request = parse_embedding_request(translated->openai);
  if (!request) return fail_with(request.error());
  auto embeddings = acquired->backend->embed(*request);
  const std::string id = acquired->backend->id();
  const bool unload = apply_keep_alive(registry, id, translated->keep_alive);
  acquired->backend.reset();
  if (unload) (void)registry.unload(id, /*force=*/false);
  if (!embeddings) return fail_with(embeddings.error());
  metrics.prompt_tokens_total += static_cast<uint64_t>(embeddings->prompt_tokens);
  if (legacy) {
    return json_response(
        200, {{"embedding",
               embeddings->vectors.empty() ? json::array() : json(embeddings->vectors[0])}});
  }
  const std::string name = translated->model.empty() ? ol::served_name(id) : translated->model;
  return json_response(200, {{"model", name},
                             {"embeddings", embeddings->vectors},
                             {"total_duration", ns_between(start, Clock::now())},
                             {"load_duration", acquired->load_ns},
                             {"prompt_eval_count", embeddings->prompt_tokens}});
}

}  // namespace

http::Response ollama_error(const ApiError& error) {
  http::Response res = json_response(error.status, ol::error_body(error));
  if (error.retry_after_seconds > 0) {
    res.headers.set("Retry-After", std::to_string(error.retry_after_seconds));
  }
  return res;
}

std::vector<std::string> ollama_public_paths() {
  return {"/", "/api/version"};
}

void register_ollama_routes(http::Router& router, ModelRegistry& registry, Metrics& metrics,
                            OllamaRoutesOptions options) {
  auto opts = std::make_shared<const OllamaRoutesOptions>(std::move(options));

  router.get("/", [opts](http::Request& req) {
    if (opts->root_page) {
      if (auto page = opts->root_page(req)) return std::move(*page);
    }
    return http::Response::text(200, "Ollama is running", "text/plain; charset=utf-8");
  });
  router.get("/api/version", [](http::Request&) {
    return json_response(200, {{"version", std::string(ol::kCompatibleVersion)},
                               {"hearth_version", std::string(hearth::version())}});
  });
  router.post("/api/chat", [&registry, &metrics](http::Request& req) {
    return handle_generation(/*chat=*/true, req, registry, metrics);
  });
  router.post("/api/generate", [&registry, &metrics](http::Request& req) {
    return handle_generation(/*chat=*/false, req, registry, metrics);
  });
  router.post("/api/embed", [&registry, &metrics](http::Request& req) {
    return handle_embed(/*legacy=*/false, req, registry, metrics);
  });
  router.post("/api/embeddings", [&registry, &metrics](http::Request& req) {
    return handle_embed(/*legacy=*/true, req, registry, metrics);
  });
  register_ollama_model_routes(router, registry, opts);

  // Everything else under /api (create, copy, push, blobs ...): a JSON 501, not an HTML 404,
  // so a client reports that hearth lacks the feature.
  for (const char* method : {"GET", "POST", "DELETE", "PUT"}) {
    router.add(method, "/api/*", [](http::Request& req) {
      return ollama_error({.status = 501,
                           .message = req.method + " " + req.path + " is not supported by hearth",
                           .type = "not_implemented",
                           .code = "not_implemented"});
    });
  }
}

}  // namespace hearth::server
