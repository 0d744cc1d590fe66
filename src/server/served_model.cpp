#include "server/served_model.h"

#include <chrono>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth::server {

const char* const kFallbackChatTemplate =
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

Result<std::unique_ptr<ServedModel>> ServedModel::create(std::string id,
                                                         std::shared_ptr<const Model> model,
                                                         const SchedulerOptions& options,
                                                         Metrics* metrics) {
  std::unique_ptr<ServedModel> served(new ServedModel());
  served->id_ = std::move(id);
  served->created_ = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  const Tokenizer& tokenizer = model->tokenizer();
  if (tokenizer.bos_id() >= 0) served->bos_token_ = std::string(tokenizer.token_text(tokenizer.bos_id()));
  if (tokenizer.eos_id() >= 0) served->eos_token_ = std::string(tokenizer.token_text(tokenizer.eos_id()));

  auto source = model->file().get_string_or("tokenizer.chat_template", "");
  if (!source) return std::unexpected(source.error());
  if (!source->empty()) {
    auto parsed = chat::ChatTemplate::parse(*source);
    if (!parsed) {
      return fail("the model's chat template does not parse: " + parsed.error().message);
    }
    served->template_.emplace(std::move(*parsed));
  } else {
    auto parsed = chat::ChatTemplate::parse(kFallbackChatTemplate);
    if (!parsed) return std::unexpected(parsed.error());
    served->template_.emplace(std::move(*parsed));
    served->fallback_template_ = true;
  }
  served->model_ = std::move(model);
  served->scheduler_ = std::make_unique<Scheduler>(served->model_, options, metrics);
  return served;
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

ApiResult<std::vector<int32_t>> ServedModel::chat_prompt(const ChatRequest& request) const {
  chat::ChatRequest chat;
  chat.messages = request.messages;
  chat.tools = request.tools;
  chat.add_generation_prompt = true;
  chat.bos_token = bos_token_;
  chat.eos_token = eos_token_;
  auto rendered = chat::apply_chat_template(*template_, chat);
  if (!rendered) {
    return api_fail(invalid_request("The model's chat template rejected the conversation: " +
                                        rendered.error().message,
                                    "messages"));
  }
  return text_prompt(*rendered);
}

ApiResult<GenerateOptions> ServedModel::generation_options(const GenerationRequest& request,
                                                           size_t prompt_tokens) const {
  const int n_ctx = scheduler_->n_ctx();
  if (prompt_tokens >= static_cast<size_t>(n_ctx)) {
    return api_fail(context_length_exceeded(static_cast<int>(prompt_tokens),
                                            request.max_tokens.value_or(0), n_ctx));
  }
  GenerateOptions options;
  const int32_t room = n_ctx - static_cast<int32_t>(prompt_tokens);
  options.max_tokens = request.max_tokens ? std::min(*request.max_tokens, room) : room;
  options.sampling = request.sampling;
  options.stop = request.stop;
  options.ignore_eos = request.ignore_eos;
  return options;
}

}  // namespace hearth::server
