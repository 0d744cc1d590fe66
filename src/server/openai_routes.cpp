#include "server/openai_routes.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <iterator>
#include <optional>
#include <random>
#include <utility>

#include "hearth/version.h"
#include "server/chat_reply.h"
#include "server/model_router.h"
#include "server/openai_request.h"
#include "server/rag_service.h"
#include "server/tool_calls.h"

namespace hearth::server {
namespace {

using json = nlohmann::ordered_json;
using std::chrono::milliseconds;

const std::string kFingerprint = "hearth-" + std::string(hearth::version());

int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_id(const char* prefix) {
  static std::atomic<uint64_t> counter{0};
  thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%012llx%04llx", prefix,
                static_cast<unsigned long long>(rng() & 0xffffffffffffULL),
                static_cast<unsigned long long>(++counter & 0xffff));
  return buf;
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json usage_json(const StreamEvent& done) {
  return {{"prompt_tokens", done.prompt_tokens},
          {"completion_tokens", done.completion_tokens},
          {"total_tokens", done.prompt_tokens + done.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", done.cached_prompt_tokens}}}};
}

json model_card(const Backend& m) {
  return {{"id", m.id()}, {"object", "model"}, {"created", m.created()}, {"owned_by", "hearth"}};
}

enum class Api { kChat, kCompletion };

// Everything one generation request needs after validation.
struct Prepared {
  Api api;
  std::shared_ptr<Backend> model;
  std::shared_ptr<RequestStream> stream;
  bool streaming = false;
  bool include_usage = false;
  std::string echo_prefix;  // completions with echo
  std::string id;
  int64_t created = 0;
  std::shared_ptr<void> in_flight;  // releases the in-flight count when the response is done
  // Chat: splits the reply into content, reasoning and tool calls (server/tool_calls.h).
  std::optional<ToolCallParser> reply_parser;
  bool logprobs = false;  // the request asked for logprobs
  // Grounded chat ("rag" in the request): the sources the prompt holds, and the service that
  // checks the answer's [n] citations against them.
  RagService* rag = nullptr;
  std::vector<RagSource> sources;
  int dropped_sources = 0;
};

// The reply's `citations`: each cited source once, in order of first use.
json citations_json(const Prepared& p, const std::vector<int>& cited) {
  json out = json::array();
  for (int n : cited) {
    if (n < 1 || n > static_cast<int>(p.sources.size())) continue;
    const RagSource& s = p.sources[static_cast<size_t>(n - 1)];
    out.push_back({{"n", n},
                   {"file_id", s.file_id},
                   {"filename", s.filename},
                   {"page", s.page},
                   {"char_start", s.char_start},
                   {"char_end", s.char_end},
                   {"quote", s.quote}});
  }
  return out;
}

json rag_summary(const Prepared& p, int removed) {
  return {{"sources", p.sources.size()},
          {"dropped_sources", p.dropped_sources},
          {"removed_citations", removed}};
}

json token_bytes(const std::string& text) {
  json bytes = json::array();
  for (unsigned char c : text) bytes.push_back(static_cast<int>(c));
  return bytes;
}

// Chat's shape: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}].
json chat_logprobs_content(const std::vector<TokenLogprob>& tokens) {
  json content = json::array();
  for (const auto& t : tokens) {
    json top = json::array();
    for (const auto& [text, logprob] : t.top) {
      top.push_back({{"token", text}, {"logprob", logprob}, {"bytes", token_bytes(text)}});
    }
    content.push_back({{"token", t.token},
                       {"logprob", t.logprob},
                       {"bytes", token_bytes(t.token)},
                       {"top_logprobs", std::move(top)}});
  }
  return content;
}

// Completions' shape: parallel arrays; text_offset counts bytes of the whole text (echo
// included) and carries on from `offset` across chunks.
json completion_logprobs(const std::vector<TokenLogprob>& tokens, size_t& offset) {
  json out = {{"tokens", json::array()},
              {"token_logprobs", json::array()},
              {"top_logprobs", json::array()},
              {"text_offset", json::array()}};
  for (const auto& t : tokens) {
    out["tokens"].push_back(t.token);
    out["token_logprobs"].push_back(t.logprob);
    json top = json::object();
    for (const auto& [text, logprob] : t.top) {
      if (!top.contains(text)) top[text] = logprob;
    }
    out["top_logprobs"].push_back(std::move(top));
    out["text_offset"].push_back(offset);
    offset += t.token.size();
  }
  return out;
}

json chunk_json(const Prepared& p, json choice) {
  json chunk = {{"id", p.id},
                {"object", p.api == Api::kChat ? "chat.completion.chunk" : "text_completion"},
                {"created", p.created},
                {"model", p.model->id()},
                {"system_fingerprint", kFingerprint},
                {"choices", json::array({std::move(choice)})}};
  if (p.include_usage) chunk["usage"] = nullptr;
  return chunk;
}

json text_choice(const Prepared& p, const std::string& text, const json& finish) {
  if (p.api == Api::kChat) {
    json delta = json::object();
    if (!text.empty()) delta["content"] = text;
    return {{"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", finish}};
  }
  return {{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish}};
}

std::string sse(const json& j) {
  return "data: " + dump(j) + "\n\n";
}

// Waits for the next event, asking `alive` at least every 100 ms (also while events keep
// coming) so a vanished client or a stuck engine is noticed.
class EventWaiter {
 public:
  EventWaiter(RequestStream& stream, std::function<bool()> alive)
      : stream_(stream), alive_(std::move(alive)) {}

  // nullopt when `alive` said no.
  std::optional<StreamEvent> next() {
    for (;;) {
      if (alive_ && std::chrono::steady_clock::now() - last_check_ >= kCheckEvery) {
        if (!alive_()) return std::nullopt;
        last_check_ = std::chrono::steady_clock::now();
      }
      if (auto e = stream_.next(kCheckEvery)) return e;
    }
  }

 private:
  static constexpr milliseconds kCheckEvery{100};
  RequestStream& stream_;
  std::function<bool()> alive_;
  std::chrono::steady_clock::time_point last_check_ = std::chrono::steady_clock::now();
};

http::Response respond_whole(Prepared& p, const http::Request& req) {
  std::string text = p.echo_prefix;
  ChatMessage message;
  std::vector<TokenLogprob> logprobs;
  // The whole answer is sent at the end, so nothing is written meanwhile that would fail
  // when the client leaves: ask the connection instead, and free the slot when it is gone.
  EventWaiter waiter(*p.stream, [&] { return !req.client_gone(); });
  for (;;) {
    auto event = waiter.next();
    if (!event) {
      p.stream->cancel();  // the scheduler counts it in requests_cancelled
      return error_response(
          {.status = 499, .message = "The client closed the connection.", .code = "cancelled"});
    }
    if (event->kind == StreamEvent::Kind::kText) {
      if (p.logprobs) {
        logprobs.insert(logprobs.end(), std::make_move_iterator(event->logprobs.begin()),
                        std::make_move_iterator(event->logprobs.end()));
      }
      if (p.reply_parser) {
        message.absorb(p.reply_parser->feed(event->text));
      } else {
        text += event->text;
      }
      continue;
    }
    if (event->kind == StreamEvent::Kind::kError) return error_response(event->error);
    const std::string finish(finish_reason_name(event->finish));
    json choice;
    if (p.api == Api::kChat) {
      message.absorb(p.reply_parser->finish());
      choice = {{"index", 0},
                {"message", message.to_json()},
                {"logprobs", nullptr},
                {"finish_reason", chat_finish_reason(event->finish, p.reply_parser->calls())}};
      if (p.logprobs) {
        choice["logprobs"] = {{"content", chat_logprobs_content(logprobs)}, {"refusal", nullptr}};
      }
    } else {
      choice = {{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish}};
      size_t offset = p.echo_prefix.size();
      if (p.logprobs) choice["logprobs"] = completion_logprobs(logprobs, offset);
    }
    std::optional<CheckedCitations> checked;
    if (p.rag) {
      json& content = choice["message"]["content"];
      checked = p.rag->check_citations(content.is_string() ? content.get<std::string>() : "",
                                       static_cast<int>(p.sources.size()));
      if (content.is_string()) content = checked->text;
    }
    json body = {{"id", p.id},
                 {"object", p.api == Api::kChat ? "chat.completion" : "text_completion"},
                 {"created", p.created},
                 {"model", p.model->id()},
                 {"system_fingerprint", kFingerprint},
                 {"choices", json::array({choice})},
                 {"usage", usage_json(*event)}};
    if (checked) {
      body["citations"] = citations_json(p, checked->cited);
      body["rag"] = rag_summary(p, checked->removed);
    }
    if (event->timings.present) body["timings"] = timings_json(event->timings);
    return json_response(200, body);
  }
}

// The SSE body of one generation, produced a chunk at a time.
class SseProducer {
 public:
  explicit SseProducer(std::shared_ptr<Prepared> p)
      : p_(std::move(p)), offset_(p_->echo_prefix.size()) {
    if (p_->rag)
      filter_ = std::make_shared<CitationFilter>(
          [rag = p_->rag, n = static_cast<int>(p_->sources.size())](const std::string& bracket) {
            return rag->check_citations(bracket, n).text;
          });
  }

  bool operator()(http::StreamWriter& out) {
    if (!started_) {
      started_ = true;
      std::string first;
      if (p_->api == Api::kChat) {
        json choice = {{"index", 0},
                       {"delta", {{"role", "assistant"}, {"content", ""}}},
                       {"logprobs", nullptr},
                       {"finish_reason", nullptr}};
        first = sse(chunk_json(*p_, choice));
      } else if (!p_->echo_prefix.empty()) {
        first = sse(chunk_json(*p_, text_choice(*p_, p_->echo_prefix, nullptr)));
      }
      return out.write(first);
    }
    EventWaiter waiter(*p_->stream, [&] { return !out.client_gone(); });
    auto event = waiter.next();
    if (!event) return false;  // the client is gone: on_close cancels
    std::string chunk;
    bool finished = false;
    if (event->kind == StreamEvent::Kind::kText) {
      if (p_->logprobs) {
        pending_logprobs_.insert(pending_logprobs_.end(),
                                 std::make_move_iterator(event->logprobs.begin()),
                                 std::make_move_iterator(event->logprobs.end()));
      }
      if (p_->reply_parser) {
        chunk = delta_chunks(p_->reply_parser->feed(event->text));
      } else {
        json choice = text_choice(*p_, event->text, nullptr);
        if (p_->logprobs) {
          choice["logprobs"] = completion_logprobs(std::exchange(pending_logprobs_, {}), offset_);
        }
        chunk = sse(chunk_json(*p_, std::move(choice)));
      }
    } else if (event->kind == StreamEvent::Kind::kError) {
      chunk = sse(event->error.to_json()) + "data: [DONE]\n\n";
      finished = true;
    } else {
      std::string finish(finish_reason_name(event->finish));
      if (p_->reply_parser) {
        chunk = delta_chunks(p_->reply_parser->finish());
        if (filter_) {  // what the filter still holds was not a citation
          const std::string held = filter_->finish();
          if (!held.empty()) chunk += sse(chunk_json(*p_, text_choice(*p_, held, nullptr)));
        }
        finish = chat_finish_reason(event->finish, p_->reply_parser->calls());
      }
      json last = text_choice(*p_, "", finish);
      // Tokens whose text never showed (held back, then dropped) still get their entries.
      if (p_->logprobs && !pending_logprobs_.empty() && p_->api == Api::kChat) {
        last["logprobs"] = {{"content", chat_logprobs_content(pending_logprobs_)},
                            {"refusal", nullptr}};
      }
      // Grounded: the citations ride on the finishing chunk (and on the usage chunk, which is
      // then the last event).
      json grounding;
      if (p_->rag) {
        const CheckedCitations checked =
            p_->rag->check_citations(raw_content_, static_cast<int>(p_->sources.size()));
        grounding = {{"citations", citations_json(*p_, checked.cited)},
                     {"rag", rag_summary(*p_, checked.removed)}};
      }
      // The timings ride on the last event before [DONE]: the usage chunk when asked for,
      // else the finishing chunk (as llama-server does).
      const bool with_timings = event->timings.present;
      json finishing = chunk_json(*p_, std::move(last));
      if (!grounding.is_null()) finishing.update(grounding);
      if (with_timings && !p_->include_usage) finishing["timings"] = timings_json(event->timings);
      chunk += sse(finishing);
      if (p_->include_usage) {
        json usage_chunk = chunk_json(*p_, nullptr);
        usage_chunk["choices"] = json::array();
        usage_chunk["usage"] = usage_json(*event);
        if (!grounding.is_null()) usage_chunk.update(grounding);
        if (with_timings) usage_chunk["timings"] = timings_json(event->timings);
        chunk += sse(usage_chunk);
      }
      chunk += "data: [DONE]\n\n";
      finished = true;
    }
    return out.write(chunk) && !finished;
  }

 private:
  // One chunk per parser event: content, reasoning_content, or a tool call's start (index,
  // id, type, name, empty arguments) and then its argument fragments.
  // The logprobs of the tokens since the last chunk ride on the next chunk.
  std::string delta_chunks(std::vector<ToolCallEvent> events) {
    std::string out;
    for (ToolCallEvent& e : events) {
      if (filter_ && e.kind == ToolCallEvent::Kind::kContent) {
        raw_content_ += e.text;
        e.text = filter_->feed(e.text);
        if (e.text.empty()) continue;
      }
      json delta = chat_delta(e);
      json choice = {
          {"index", 0}, {"delta", delta}, {"logprobs", nullptr}, {"finish_reason", nullptr}};
      if (p_->logprobs && !pending_logprobs_.empty()) {
        choice["logprobs"] = {{"content", chat_logprobs_content(pending_logprobs_)},
                              {"refusal", nullptr}};
        pending_logprobs_.clear();
      }
      out += sse(chunk_json(*p_, std::move(choice)));
    }
    return out;
  }

  std::shared_ptr<Prepared> p_;
  std::shared_ptr<CitationFilter> filter_;  // grounded chat only
  std::string raw_content_;                 // grounded: the content as generated, unfiltered
  bool started_ = false;
  std::vector<TokenLogprob> pending_logprobs_;  // not yet sent
  size_t offset_ = 0;                           // completions' text_offset so far
};

http::Response respond_streaming(std::shared_ptr<Prepared> p) {
  http::StreamBody body;
  body.produce = SseProducer(p);
  body.on_close = [p](bool) { p->stream->cancel(); };
  body.poll_ready = [p](std::function<void()> wake) {
    return p->stream->poll_ready(std::move(wake));
  };
  http::Response res = http::Response::streamed("text/event-stream", std::move(body));
  res.headers.set("Cache-Control", "no-cache");
  res.headers.set("X-Accel-Buffering", "no");
  return res;
}

// Grounds `chat` in the stores its "rag" field names: retrieval, then the sources that fit
// the context beside the reply's room (max_tokens, or a quarter of the context up to 512).
ApiResult<GroundedMessages> ground_chat(ChatRequest& chat, Backend& model, const json& rag_field,
                                        RagService& rag) {
  const int n_ctx = model.capabilities().context_length;
  const int reply_room = chat.max_tokens.value_or(std::min(512, n_ctx / 4));
  const int room = n_ctx - reply_room;
  if (room < 16) {
    ApiError e =
        invalid_request("max_tokens " + std::to_string(reply_room) +
                            " leaves no room for sources in a context of " + std::to_string(n_ctx),
                        "max_tokens");
    e.code = "context_length_exceeded";
    return api_fail(e);
  }
  PromptTokenCounter count = [&](const json& messages) -> ApiResult<int> {
    ChatRequest probe = chat;
    probe.messages = messages;
    if (auto n = model.count_chat_tokens(probe)) return *n;
    // A backend that cannot count (remote): about four bytes a token, plus template markup.
    return static_cast<int>(dump(messages).size() / 4 + 16 * messages.size());
  };
  auto grounded = rag.ground(rag_field, chat.messages, room, count);
  if (!grounded) return api_fail(grounded.error());
  chat.messages = grounded->messages;
  return grounded;
}

http::Response handle_generation(Api api, const http::Request& req, ModelRegistry& registry,
                                 Metrics& metrics, ModelRouter* model_router,
                                 RagService* rag = nullptr) {
  ++metrics.requests_total;
  ++metrics.requests_in_flight;
  // Counted until the response is complete, which for a stream is after this handler returns.
  std::shared_ptr<void> in_flight(nullptr, [&metrics](void*) { --metrics.requests_in_flight; });
  auto fail_with = [&](const ApiError& e) {
    ++metrics.requests_failed;
    return error_response(e);
  };

  auto body = parse_json_body(req.body);
  if (!body) return fail_with(body.error());
  const bool grounded =
      api == Api::kChat && body->is_object() && body->contains("rag") && !(*body)["rag"].is_null();
  if (grounded && !rag) return fail_with(invalid_request("this server does not serve RAG", "rag"));
  if (model_router && body->is_object() && body->contains("model") &&
      (*body)["model"].is_string() && model_router->handles((*body)["model"].get<std::string>())) {
    if (grounded)
      return fail_with(
          invalid_request("rag is not supported with a router route; name a model", "rag"));
    return model_router->handle(api == Api::kChat ? RoutedApi::kChat : RoutedApi::kCompletion, req,
                                *body);
  }

  auto p = std::make_shared<Prepared>();
  p->in_flight = std::move(in_flight);
  p->api = api;
  p->created = unix_now();
  p->id = new_id(api == Api::kChat ? "chatcmpl" : "cmpl");

  if (api == Api::kChat) {
    auto chat = parse_chat_request(*body);
    if (!chat) return fail_with(chat.error());
    auto model = registry.acquire(chat->model);
    if (!model) return fail_with(model.error());
    p->model = *model;
    p->streaming = chat->stream;
    p->include_usage = chat->include_usage;
    p->logprobs = chat->top_logprobs >= 0;
    if (grounded) {
      auto g = ground_chat(*chat, *p->model, (*body)["rag"], *rag);
      if (!g) return fail_with(g.error());
      p->rag = rag;
      p->sources = std::move(g->sources);
      p->dropped_sources = g->dropped;
    }
    auto stream = p->model->chat(*chat);
    if (!stream) return fail_with(stream.error());
    p->stream = *stream;
    p->reply_parser.emplace(make_reply_parser(*chat, p->stream->reply_syntax));
  } else {
    auto completion = parse_completion_request(*body);
    if (!completion) return fail_with(completion.error());
    auto model = registry.acquire(completion->model);
    if (!model) return fail_with(model.error());
    p->model = *model;
    p->streaming = completion->stream;
    p->include_usage = completion->include_usage;
    p->logprobs = completion->top_logprobs >= 0;
    if (completion->echo && completion->prompt_tokens.empty()) {
      p->echo_prefix = completion->prompt;
    }
    auto stream = p->model->complete(*completion);
    if (!stream) return fail_with(stream.error());
    p->stream = *stream;
  }
  if (p->streaming) return respond_streaming(p);
  return respond_whole(*p, req);
}

std::string base64_floats(const std::vector<float>& values) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
  const size_t n = values.size() * sizeof(float);
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    const uint32_t chunk = (uint32_t{bytes[i]} << 16) |
                           (i + 1 < n ? uint32_t{bytes[i + 1]} << 8 : 0) |
                           (i + 2 < n ? uint32_t{bytes[i + 2]} : 0);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[chunk & 63] : '=';
  }
  return out;
}

http::Response handle_embeddings(const http::Request& req, ModelRegistry& registry,
                                 Metrics& metrics, ModelRouter* model_router) {
  ++metrics.requests_total;
  auto fail_with = [&](const ApiError& e) {
    ++metrics.requests_failed;
    return error_response(e);
  };
  auto body = parse_json_body(req.body);
  if (!body) return fail_with(body.error());
  if (model_router && body->is_object() && body->contains("model") &&
      (*body)["model"].is_string() && model_router->handles((*body)["model"].get<std::string>())) {
    return model_router->handle(RoutedApi::kEmbeddings, req, *body);
  }
  auto request = parse_embedding_request(*body);
  if (!request) return fail_with(request.error());
  auto model = registry.acquire(request->model);
  if (!model) return fail_with(model.error());
  auto embeddings = (*model)->embed(*request);
  if (!embeddings) return fail_with(embeddings.error());
  const int64_t prompt_tokens = embeddings->prompt_tokens;
  metrics.prompt_tokens_total += static_cast<uint64_t>(prompt_tokens);
  json data = json::array();
  for (size_t i = 0; i < embeddings->vectors.size(); ++i) {
    json item = {{"object", "embedding"}, {"index", i}};
    if (request->base64) {
      item["embedding"] = base64_floats(embeddings->vectors[i]);
    } else {
      item["embedding"] = embeddings->vectors[i];
    }
    data.push_back(std::move(item));
  }
  return json_response(
      200, {{"object", "list"},
            {"data", std::move(data)},
            {"model", (*model)->id()},
            {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}});
}

}  // namespace

// Rounded to microseconds so the JSON stays short.
json timings_json(const GenerationTimings& t) {
  auto round3 = [](double v) { return std::round(v * 1000.0) / 1000.0; };
  json out = {{"queue_ms", round3(t.queue_ms)},
              {"cache_n", t.cache_n},
              {"prompt_n", t.prompt_n},
              {"prompt_ms", round3(t.prompt_ms)},
              {"prompt_per_second", round3(t.prompt_per_second())},
              {"predicted_n", t.predicted_n},
              {"predicted_ms", round3(t.predicted_ms)},
              {"predicted_per_second", round3(t.predicted_per_second())},
              {"ttft_ms", round3(t.ttft_ms)}};
  if (t.speculative) {
    out["draft_n"] = t.draft_n;
    out["draft_n_accepted"] = t.draft_n_accepted;
    out["draft_acceptance_rate"] =
        round3(t.draft_n > 0 ? static_cast<double>(t.draft_n_accepted) / t.draft_n : 0.0);
  }
  return out;
}

http::Response run_chat_completion(const http::Request& req, ModelRegistry& registry,
                                   Metrics& metrics, ModelRouter* model_router) {
  return handle_generation(Api::kChat, req, registry, metrics, model_router);
}

std::vector<std::string> openai_public_paths() {
  return {"/health", "/metrics"};
}

void register_openai_routes(http::Router& router, ModelRegistry& registry, Metrics& metrics,
                            ModelRouter* model_router, RagService* rag, ModelFiles* files) {
  router.get("/health", [&registry](http::Request&) {
    if (registry.empty() && !registry.can_load_on_demand()) {
      http::Response res = http::Response::json(503, R"({"status":"loading"})");
      res.headers.set("Retry-After", "5");
      return res;
    }
    return http::Response::json(200, R"({"status":"ok"})");
  });

  router.get("/metrics", [&metrics, model_router](http::Request&) {
    std::string text = metrics.render();
    if (model_router) text += model_router->render_metrics();
    return http::Response::text(200, text, "text/plain; version=0.0.4");
  });

  router.get("/v1/models", [&registry, model_router](http::Request&) {
    json data = json::array();
    for (const auto& m : registry.all()) data.push_back(model_card(*m));
    if (model_router) {
      for (const auto& name : model_router->route_names()) {
        data.push_back(
            {{"id", name}, {"object", "model"}, {"created", 0}, {"owned_by", "hearth-router"}});
      }
    }
    return json_response(200, {{"object", "list"}, {"data", data}});
  });

  router.get("/v1/models/*", [&registry, model_router, files](http::Request& req) {
    const std::string& id = req.path_remainder;
    constexpr std::string_view kFile = "/file";
    if (files && id.size() > kFile.size() && id.ends_with(kFile)) {
      return files->serve(req, id.substr(0, id.size() - kFile.size()));
    }
    if (model_router && model_router->handles(id)) {
      return json_response(
          200, {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", "hearth-router"}});
    }
    for (const auto& m : registry.all()) {
      if (m->id() == id) return json_response(200, model_card(*m));
    }
    return error_response(model_not_found(id));
  });

  router.post("/v1/chat/completions", [&, model_router, rag](http::Request& req) {
    return handle_generation(Api::kChat, req, registry, metrics, model_router, rag);
  });
  router.post("/v1/completions", [&, model_router](http::Request& req) {
    return handle_generation(Api::kCompletion, req, registry, metrics, model_router);
  });
  router.post("/v1/embeddings", [&, model_router](http::Request& req) {
    return handle_embeddings(req, registry, metrics, model_router);
  });
}

}  // namespace hearth::server
