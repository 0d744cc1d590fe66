#include "server/served_model.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "server/json_schema.h"
#include "server/tool_constraint.h"

namespace hearth::server {

Result<std::unique_ptr<ServedModel>> ServedModel::create(std::string id,
                                                         std::shared_ptr<const Model> model,
                                                         const SchedulerOptions& options,
                                                         Metrics* metrics) {
  std::unique_ptr<ServedModel> served(new ServedModel());
  served->id_ = std::move(id);
  served->created_ = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  auto chat_template = chat::model_chat_template(model->file(), model->tokenizer());
  if (!chat_template) return with_context("chat template", chat_template.error());
  served->template_.emplace(std::move(*chat_template));
  bool known_tools = false;
  served->tool_format_ = detect_tool_call_format(served->template_->source, &known_tools);
  if (!known_tools && !served->template_->is_fallback &&
      served->template_->source.find("tools") != std::string::npos) {
    // Said once, when the model loads: its tool calls are read as generic JSON.
    std::fprintf(stderr,
                 "hearth: model '%s': chat template of an unknown tool-call family; tool calls "
                 "are read as generic JSON\n",
                 served->id_.c_str());
  }
  served->thinking_template_ = template_has_thinking(served->template_->source);
  served->tool_message_style_ = probe_tool_message_style(*served->template_);
  served->tools_in_system_message_ = template_reads_message_tools(served->template_->source);
  served->split_reasoning_ = options.split_reasoning;
  served->model_ = std::move(model);
  auto scheduler = Scheduler::create(served->model_, options, metrics, served->id_);
  if (!scheduler) return std::unexpected(scheduler.error());
  served->scheduler_ = std::move(*scheduler);
  return served;
}

BackendCapabilities ServedModel::capabilities() const {
  const bool generates = !model_->info().embedding_only;
  return {.chat = generates,
          .completion = generates,
          .embeddings = true,
          .tools = generates,
          .json_output = generates,
          .context_length = scheduler_->n_ctx()};
}

BackendHealth ServedModel::health() const {
  return {.ready = true, .in_flight = scheduler_->load()};
}

std::vector<int32_t> ServedModel::text_prompt(const std::string& text) const {
  const Tokenizer& tokenizer = model_->tokenizer();
  std::vector<int32_t> ids = tokenizer.encode(text, /*add_special=*/true, /*parse_special=*/true);
  // Templates usually write the BOS token themselves; the tokenizer's BOS rule must not
  // double it.
  const int32_t bos = tokenizer.bos_id();
  if (bos >= 0 && ids.size() >= 2 && ids[0] == bos && ids[1] == bos) ids.erase(ids.begin());
  return ids;
}

ApiResult<std::vector<int32_t>> ServedModel::chat_prompt(const ChatRequest& request,
                                                         std::string* rendered) const {
  chat::ChatRequest chat;
  chat.messages = request.messages;
  apply_tool_message_style(chat.messages, tool_message_style_);
  if (tools_in_system_message_) attach_tools_to_system_message(chat.messages, request.tools);
  chat.tools = request.tools;
  chat.template_kwargs = request.chat_template_kwargs;
  chat.add_generation_prompt = true;
  auto ids = chat::chat_prompt_tokens(*template_, model_->tokenizer(), std::move(chat), rendered);
  if (!ids) {
    return api_fail(invalid_request(
        "The model's chat template rejected the conversation: " + ids.error().message, "messages"));
  }
  return std::move(*ids);
}

std::optional<int> ServedModel::count_chat_tokens(const ChatRequest& request) {
  auto prompt = chat_prompt(request, nullptr);
  if (!prompt) return std::nullopt;
  return static_cast<int>(prompt->size());
}

std::optional<ApiError> ServedModel::text_generation_refusal() const {
  if (!model_->info().embedding_only) return std::nullopt;
  return invalid_request("model '" + id_ + "' is an embedding model; use /v1/embeddings", "model");
}

ApiResult<std::shared_ptr<RequestStream>> ServedModel::chat(const ChatRequest& request) {
  if (auto refusal = text_generation_refusal()) return api_fail(*refusal);
  std::string rendered;
  auto prompt = chat_prompt(request, &rendered);
  if (!prompt) return api_fail(prompt.error());
  ChatReplySyntax syntax;
  syntax.tool_format = tool_format_;
  syntax.thinking = thinking_template_ && split_reasoning_;
  if (syntax.thinking) {
    // Some templates open the think block in the prompt (DeepSeek-R1's newer ones, Qwen3's
    // generation prompt): the reply then starts inside the reasoning.
    const size_t open = rendered.rfind("<think>");
    const size_t close = rendered.rfind("</think>");
    syntax.starts_in_thinking =
        open != std::string::npos && (close == std::string::npos || close < open);
  }
  ApiResult<std::shared_ptr<RequestStream>> stream;
  if (forces_tool_call(request)) {
    // tool_choice required or a named function: the reply is constrained to one generic
    // {"name", "arguments"} call matching the function's parameters, whatever the family's
    // own syntax, so even a weak model produces a valid call.
    ChatRequest forced = request;
    forced.response_format = ResponseFormat::kJsonSchema;
    forced.json_schema = tool_call_schema(request);
    syntax.forced_call = true;
    syntax.thinking = false;
    stream = submit(forced, std::move(*prompt));
  } else {
    ChatRequest copy = request;
    const bool control_markers =
        tool_format_ == ToolCallFormat::kLlama3 || tool_format_ == ToolCallFormat::kPhi4 ||
        tool_format_ == ToolCallFormat::kMistral || tool_format_ == ToolCallFormat::kDeepSeekR1;
    copy.render_special_tokens = wants_tool_calls(request) && control_markers;
    // tool_choice auto: once the model opens a call in its family's syntax, the rest of the
    // call is constrained like a forced one (null when there is nothing to constrain).
    auto calls = auto_tool_call_constraint(copy, {.format = tool_format_,
                                                  .thinking = syntax.thinking,
                                                  .starts_in_thinking = syntax.starts_in_thinking,
                                                  .render_special = copy.render_special_tokens});
    stream = submit(copy, std::move(*prompt), std::move(calls));
  }
  if (stream) (*stream)->reply_syntax = syntax;
  return stream;
}

ApiResult<std::shared_ptr<RequestStream>> ServedModel::complete(const CompletionRequest& request) {
  if (auto refusal = text_generation_refusal()) return api_fail(*refusal);
  if (request.prompt_tokens.empty()) return submit(request, text_prompt(request.prompt));
  const int32_t n_vocab = model_->info().n_vocab;
  for (int32_t id : request.prompt_tokens) {
    if (id >= n_vocab) {
      return api_fail(invalid_request(
          "token id " + std::to_string(id) + " is outside the vocabulary", "prompt"));
    }
  }
  return submit(request, request.prompt_tokens);
}

ApiResult<std::shared_ptr<RequestStream>> ServedModel::submit(
    const GenerationRequest& request, std::vector<int32_t> prompt,
    std::shared_ptr<const CallConstraintSpec> tool_calls) {
  auto options = generation_options(request, prompt.size());
  if (!options) return api_fail(options.error());
  GenerationJob job{
      std::move(prompt), std::move(*options),  request.response_format != ResponseFormat::kText,
      nullptr,           request.top_logprobs, std::move(tool_calls)};
  if (request.response_format == ResponseFormat::kJsonSchema) {
    auto schema = compile_response_schema(request.json_schema);
    if (!schema) return api_fail(schema.error());
    job.json_schema = std::move(*schema);
  }
  return scheduler_->submit(std::move(job));
}

ApiResult<Embeddings> ServedModel::embed(const EmbeddingRequest& request) {
  std::lock_guard lock(embed_mutex_);
  if (!embed_session_) {
    SessionOptions options;
    options.n_ctx = scheduler_->n_ctx();
    auto session = Session::create(model_, options);
    if (!session) return api_fail(api_error_from(session.error()));
    embed_session_ = std::make_unique<Session>(std::move(*session));
  }
  Embeddings out;
  for (size_t i = 0; i < request.inputs.size(); ++i) {
    const std::vector<int32_t> ids = text_prompt(request.inputs[i]);
    if (ids.empty())
      return api_fail(invalid_request("input " + std::to_string(i) + " has no tokens", "input"));
    // An encoder's learned positions end at its trained context, whatever the server's.
    int limit = embed_session_->n_ctx();
    if (model_->info().embedding_only) limit = std::min(limit, model_->info().n_ctx_train);
    if (static_cast<int64_t>(ids.size()) > limit) {
      auto error = context_length_exceeded(static_cast<int>(ids.size()), 0, limit);
      error.param = "input";
      return api_fail(error);
    }
    auto vector = embed_session_->embed(ids, /*normalize=*/true);
    if (!vector) return api_fail(api_error_from(vector.error()));
    out.prompt_tokens += static_cast<int64_t>(ids.size());
    out.vectors.push_back(std::move(*vector));
  }
  return out;
}

ApiResult<GenerateOptions> ServedModel::generation_options(const GenerationRequest& request,
                                                           size_t prompt_tokens) const {
  int n_ctx = scheduler_->n_ctx();
  if (request.context_limit && *request.context_limit < n_ctx) {
    const int32_t limit = *request.context_limit;
    if (prompt_tokens > static_cast<size_t>(limit)) {
      ApiError error =
          invalid_request("the prompt has " + std::to_string(prompt_tokens) +
                              " tokens, more than num_ctx (" + std::to_string(limit) + ")",
                          "options.num_ctx");
      error.code = "context_length_exceeded";
      return api_fail(std::move(error));
    }
    // A prompt that fills num_ctx exactly leaves no room; Ollama would still answer, so
    // generation gets at least one token when the server's context has room for it.
    n_ctx = std::max<int>(limit, static_cast<int>(prompt_tokens) + 1);
  }
  if (prompt_tokens >= static_cast<size_t>(scheduler_->n_ctx())) {
    return api_fail(context_length_exceeded(static_cast<int>(prompt_tokens),
                                            request.max_tokens.value_or(0), scheduler_->n_ctx()));
  }
  GenerateOptions options;
  const int32_t room = n_ctx - static_cast<int32_t>(prompt_tokens);
  options.max_tokens = request.max_tokens ? std::min(*request.max_tokens, room) : room;
  options.sampling = request.sampling;
  options.stop = request.stop;
  options.ignore_eos = request.ignore_eos;
  options.render_special_tokens = request.render_special_tokens;
  options.speculative = scheduler_->speculative();
  if (request.speculative) {
    if (!*request.speculative) {
      options.speculative.mode = SpeculateMode::kOff;
    } else if (options.speculative.mode == SpeculateMode::kOff) {
      options.speculative.mode = SpeculateMode::kLookup;
    }
  }
  return options;
}

}  // namespace hearth::server
