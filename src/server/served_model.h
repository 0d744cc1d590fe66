// A model the server can answer with: the engine's Model, its scheduler (slots, batching),
// and its chat template. Thread-safe: the handlers of many requests share one ServedModel.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/chat/model_template.h"
#include "hearth/engine.h"
#include "server/api_error.h"
#include "server/openai_request.h"
#include "server/scheduler.h"

namespace hearth::server {

class ServedModel {
 public:
  static Result<std::unique_ptr<ServedModel>> create(std::string id,
                                                     std::shared_ptr<const Model> model,
                                                     const SchedulerOptions& options,
                                                     Metrics* metrics);

  const std::string& id() const { return id_; }
  int64_t created() const { return created_; }
  const Model& model() const { return *model_; }
  Scheduler& scheduler() { return *scheduler_; }
  bool uses_fallback_template() const { return template_->is_fallback; }

  // Renders messages (and tools) with the chat template and tokenizes the result.
  ApiResult<std::vector<int32_t>> chat_prompt(const ChatRequest& request) const;
  // Tokenizes a raw prompt with the model's BOS rule.
  std::vector<int32_t> text_prompt(const std::string& text) const;

  // Generation options for a request whose prompt has `prompt_tokens` tokens: max_tokens
  // defaults to (and is capped at) what is left of the context.
  // L2-normalized embeddings of `texts` (each tokenized with the BOS rule, or [CLS] ... [SEP]
  // for an encoder), computed one after another on a session kept for embeddings: mean-pooled
  // for a decoder, pooled as the file says for an embedding model. Adds the tokens used to
  // `prompt_tokens`.
  ApiResult<std::vector<std::vector<float>>> embed(const std::vector<std::string>& texts,
                                                   int64_t& prompt_tokens);

  ApiResult<GenerateOptions> generation_options(const GenerationRequest& request,
                                                size_t prompt_tokens) const;

 private:
  ServedModel() = default;

  std::string id_;
  int64_t created_ = 0;
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Scheduler> scheduler_;
  std::mutex embed_mutex_;                  // guards embed_session_
  std::unique_ptr<Session> embed_session_;  // created on the first embeddings request
  std::optional<chat::ModelChatTemplate> template_;
};

}  // namespace hearth::server
