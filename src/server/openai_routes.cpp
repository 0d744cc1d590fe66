#include "server/openai_routes.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <random>

#include "hearth/version.h"
#include "server/json_schema.h"
#include "server/openai_request.h"

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

json model_card(const ServedModel& m) {
  return {{"id", m.id()}, {"object", "model"}, {"created", m.created()}, {"owned_by", "hearth"}};
}

enum class Api { kChat, kCompletion };

// Everything one generation request needs after validation.
struct Prepared {
  Api api;
  std::shared_ptr<ServedModel> model;
  std::shared_ptr<RequestStream> stream;
  bool streaming = false;
  bool include_usage = false;
  std::string echo_prefix;  // completions with echo
  std::string id;
  int64_t created = 0;
  std::shared_ptr<void> in_flight;  // releases the in-flight count when the response is done
};

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

// Waits for the next event, polling so a vanished client or a stuck engine is noticed.
std::optional<StreamEvent> wait_event(RequestStream& stream, const std::function<bool()>& alive) {
  for (;;) {
    if (auto e = stream.next(milliseconds(100))) return e;
    if (alive && !alive()) return std::nullopt;
  }
}

void respond_whole(Prepared& p, httplib::Response& res) {
  std::string text = p.echo_prefix;
  for (;;) {
    auto event = wait_event(*p.stream, {});
    if (!event) continue;
    if (event->kind == StreamEvent::Kind::kText) {
      text += event->text;
      continue;
    }
    if (event->kind == StreamEvent::Kind::kError) {
      send_error(res, event->error);
      return;
    }
    const std::string finish(finish_reason_name(event->finish));
    json choice;
    if (p.api == Api::kChat) {
      choice = {{"index", 0},
                {"message", {{"role", "assistant"}, {"content", text}, {"refusal", nullptr}}},
                {"logprobs", nullptr},
                {"finish_reason", finish}};
    } else {
      choice = {{"index", 0}, {"text", text}, {"logprobs", nullptr}, {"finish_reason", finish}};
    }
    json body = {{"id", p.id},
                 {"object", p.api == Api::kChat ? "chat.completion" : "text_completion"},
                 {"created", p.created},
                 {"model", p.model->id()},
                 {"system_fingerprint", kFingerprint},
                 {"choices", json::array({choice})},
                 {"usage", usage_json(*event)}};
    send_json(res, 200, dump(body));
    return;
  }
}

void respond_streaming(std::shared_ptr<Prepared> p, httplib::Response& res) {
  res.set_header("Cache-Control", "no-cache");
  res.set_header("X-Accel-Buffering", "no");
  auto finished = std::make_shared<bool>(false);
  auto started = std::make_shared<bool>(false);
  res.set_chunked_content_provider(
      "text/event-stream",
      [p, finished, started](size_t, httplib::DataSink& sink) -> bool {
        if (*finished) {
          sink.done();
          return true;
        }
        if (!*started) {
          *started = true;
          std::string first;
          if (p->api == Api::kChat) {
            json choice = {{"index", 0},
                           {"delta", {{"role", "assistant"}, {"content", ""}}},
                           {"logprobs", nullptr},
                           {"finish_reason", nullptr}};
            first = sse(chunk_json(*p, choice));
          } else if (!p->echo_prefix.empty()) {
            first = sse(chunk_json(*p, text_choice(*p, p->echo_prefix, nullptr)));
          }
          if (!first.empty() && !sink.write(first.data(), first.size())) return false;
          return true;
        }
        auto event = wait_event(*p->stream, [&] { return sink.is_writable(); });
        if (!event) return false;  // the client is gone: cancel
        std::string out;
        if (event->kind == StreamEvent::Kind::kText) {
          out = sse(chunk_json(*p, text_choice(*p, event->text, nullptr)));
        } else if (event->kind == StreamEvent::Kind::kError) {
          out = sse(event->error.to_json()) + "data: [DONE]\n\n";
          *finished = true;
        } else {
          out = sse(
              chunk_json(*p, text_choice(*p, "", std::string(finish_reason_name(event->finish)))));
          if (p->include_usage) {
            json usage_chunk = chunk_json(*p, nullptr);
            usage_chunk["choices"] = json::array();
            usage_chunk["usage"] = usage_json(*event);
            out += sse(usage_chunk);
          }
          out += "data: [DONE]\n\n";
          *finished = true;
        }
        return sink.write(out.data(), out.size());
      },
      [p](bool) { p->stream->cancel(); });
}

// An encoder has no logits: asking it for text is the client's mistake, not a server fault.
std::optional<ApiError> embedding_only_error(const ServedModel& m) {
  if (!m.model().info().embedding_only) return std::nullopt;
  return invalid_request("model '" + m.id() + "' is an embedding model; use /v1/embeddings",
                         "model");
}

void handle_generation(Api api, const httplib::Request& req, httplib::Response& res,
                       ModelRegistry& registry, Metrics& metrics) {
  ++metrics.requests_total;
  ++metrics.requests_in_flight;
  // Counted until the response is complete, which for a stream is after this handler returns.
  std::shared_ptr<void> in_flight(nullptr, [&metrics](void*) { --metrics.requests_in_flight; });
  auto fail_with = [&](const ApiError& e) {
    ++metrics.requests_failed;
    send_error(res, e);
  };

  auto body = parse_json_body(req.body);
  if (!body) return fail_with(body.error());

  auto p = std::make_shared<Prepared>();
  p->in_flight = std::move(in_flight);
  p->api = api;
  p->created = unix_now();
  p->id = new_id(api == Api::kChat ? "chatcmpl" : "cmpl");
  GenerationRequest common;
  std::vector<int32_t> prompt;
  bool json_object = false;

  if (api == Api::kChat) {
    auto chat = parse_chat_request(*body);
    if (!chat) return fail_with(chat.error());
    auto model = registry.acquire(chat->model);
    if (!model) return fail_with(model.error());
    p->model = *model;
    if (auto e = embedding_only_error(*p->model)) return fail_with(*e);
    auto ids = p->model->chat_prompt(*chat);
    if (!ids) return fail_with(ids.error());
    prompt = std::move(*ids);
    common = *chat;
  } else {
    auto completion = parse_completion_request(*body);
    if (!completion) return fail_with(completion.error());
    auto model = registry.acquire(completion->model);
    if (!model) return fail_with(model.error());
    p->model = *model;
    if (auto e = embedding_only_error(*p->model)) return fail_with(*e);
    if (!completion->prompt_tokens.empty()) {
      const int32_t n_vocab = p->model->model().info().n_vocab;
      for (int32_t id : completion->prompt_tokens) {
        if (id >= n_vocab) {
          return fail_with(invalid_request(
              "token id " + std::to_string(id) + " is outside the vocabulary", "prompt"));
        }
      }
      prompt = completion->prompt_tokens;
    } else {
      prompt = p->model->text_prompt(completion->prompt);
      if (completion->echo) p->echo_prefix = completion->prompt;
    }
    common = *completion;
  }
  json_object = common.response_format != ResponseFormat::kText;
  p->streaming = common.stream;
  p->include_usage = common.include_usage;

  auto options = p->model->generation_options(common, prompt.size());
  if (!options) return fail_with(options.error());
  GenerationJob job{std::move(prompt), std::move(*options), json_object, nullptr};
  if (common.response_format == ResponseFormat::kJsonSchema) {
    auto schema = compile_response_schema(common.json_schema);
    if (!schema) return fail_with(schema.error());
    job.json_schema = std::move(*schema);
  }
  auto stream = p->model->scheduler().submit(std::move(job));
  if (!stream) return fail_with(stream.error());
  p->stream = *stream;

  if (p->streaming) {
    respond_streaming(p, res);
  } else {
    respond_whole(*p, res);
  }
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

void handle_embeddings(const httplib::Request& req, httplib::Response& res, ModelRegistry& registry,
                       Metrics& metrics) {
  ++metrics.requests_total;
  auto fail_with = [&](const ApiError& e) {
    ++metrics.requests_failed;
    send_error(res, e);
  };
  auto body = parse_json_body(req.body);
  if (!body) return fail_with(body.error());
  auto request = parse_embedding_request(*body);
  if (!request) return fail_with(request.error());
  auto model = registry.acquire(request->model);
  if (!model) return fail_with(model.error());
  int64_t prompt_tokens = 0;
  auto vectors = (*model)->embed(request->inputs, prompt_tokens);
  if (!vectors) return fail_with(vectors.error());
  metrics.prompt_tokens_total += static_cast<uint64_t>(prompt_tokens);
  json data = json::array();
  for (size_t i = 0; i < vectors->size(); ++i) {
    json item = {{"object", "embedding"}, {"index", i}};
    if (request->base64) {
      item["embedding"] = base64_floats((*vectors)[i]);
    } else {
      item["embedding"] = (*vectors)[i];
    }
    data.push_back(std::move(item));
  }
  send_json(res, 200,
            dump({{"object", "list"},
                  {"data", std::move(data)},
                  {"model", (*model)->id()},
                  {"usage", {{"prompt_tokens", prompt_tokens}, {"total_tokens", prompt_tokens}}}}));
}

}  // namespace

void register_openai_routes(HttpServer& http, ModelRegistry& registry, Metrics& metrics) {
  auto& routes = http.routes();
  http.add_public_path("/health");
  http.add_public_path("/metrics");

  routes.Get("/health", [&registry](const httplib::Request&, httplib::Response& res) {
    if (registry.empty() && !registry.can_load_on_demand()) {
      res.set_header("Retry-After", "5");
      send_json(res, 503, R"({"status":"loading"})");
      return;
    }
    send_json(res, 200, R"({"status":"ok"})");
  });

  routes.Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(), "text/plain; version=0.0.4");
  });

  routes.Get("/v1/models", [&registry](const httplib::Request&, httplib::Response& res) {
    json data = json::array();
    for (const auto& m : registry.all()) data.push_back(model_card(*m));
    send_json(res, 200, dump({{"object", "list"}, {"data", data}}));
  });

  routes.Get(R"(/v1/models/(.+))",
             [&registry](const httplib::Request& req, httplib::Response& res) {
               const std::string id = req.matches[1];
               for (const auto& m : registry.all()) {
                 if (m->id() == id) return send_json(res, 200, dump(model_card(*m)));
               }
               send_error(res, model_not_found(id));
             });

  routes.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    handle_generation(Api::kChat, req, res, registry, metrics);
  });
  routes.Post("/v1/completions", [&](const httplib::Request& req, httplib::Response& res) {
    handle_generation(Api::kCompletion, req, res, registry, metrics);
  });
  routes.Post("/v1/embeddings", [&](const httplib::Request& req, httplib::Response& res) {
    handle_embeddings(req, res, registry, metrics);
  });
}

}  // namespace hearth::server
