// The local Backend: the engine's Model, its scheduler (slots, batching), its chat template
// and an embedding session. Everything a request needs checked against the model
// (embedding-only models, chat template, token ids inside the vocabulary, prompt within the
// context) is checked here, not in the routes.
//
// Thread-safe: the handlers of many requests share one ServedModel.
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
#include "server/backend.h"
#include "server/openai_request.h"
#include "server/scheduler.h"
#include "server/tool_calls.h"
#include "server/tool_render.h"

namespace hearth::server {

class ServedModel : public Backend {
 public:
  static Result<std::unique_ptr<ServedModel>> create(std::string id,
                                                     std::shared_ptr<const Model> model,
                                                     const SchedulerOptions& options,
                                                     Metrics* metrics);

  // Backend
  const std::string& id() const override { return id_; }
  int64_t created() const override { return created_; }
  BackendCapabilities capabilities() const override;
  BackendHealth health() const override;
  ApiResult<std::shared_ptr<RequestStream>> chat(const ChatRequest& request) override;
  ApiResult<std::shared_ptr<RequestStream>> complete(const CompletionRequest& request) override;
  // L2-normalized embeddings of the inputs (each tokenized with the BOS rule, or
  // [CLS] ... [SEP] for an encoder), computed one after another on a session kept for
  // embeddings: mean-pooled for a decoder, pooled as the file says for an embedding model.
  ApiResult<Embeddings> embed(const EmbeddingRequest& request) override;
  std::optional<int> count_chat_tokens(const ChatRequest& request) override;
  void shutdown(bool drain) override { scheduler_->shutdown(drain); }

  // The engine side, for the registry's memory accounting.
  const Model& model() const { return *model_; }
  Scheduler& scheduler() { return *scheduler_; }
  const Scheduler& scheduler() const { return *scheduler_; }
  bool uses_fallback_template() const { return template_->is_fallback; }

 private:
  ServedModel() = default;

  // Renders messages (and tools) with the chat template and tokenizes the result.
  ApiResult<std::vector<int32_t>> chat_prompt(const ChatRequest& request,
                                              std::string* rendered) const;
  // Tokenizes a raw prompt with the model's BOS rule.
  std::vector<int32_t> text_prompt(const std::string& text) const;
  // An encoder has no logits: asking it for text is the client's mistake.
  std::optional<ApiError> text_generation_refusal() const;
  // Generation options for a request whose prompt has `prompt_tokens` tokens: max_tokens
  // defaults to (and is capped at) what is left of the context.
  ApiResult<GenerateOptions> generation_options(const GenerationRequest& request,
                                                size_t prompt_tokens) const;
  // Checks the prompt against the context and queues it.
  ApiResult<std::shared_ptr<RequestStream>> submit(
      const GenerationRequest& request, std::vector<int32_t> prompt,
      std::shared_ptr<const CallConstraintSpec> tool_calls = nullptr);

  std::string id_;
  int64_t created_ = 0;
  std::shared_ptr<const Model> model_;
  std::unique_ptr<Scheduler> scheduler_;
  std::mutex embed_mutex_;                  // guards embed_session_
  std::unique_ptr<Session> embed_session_;  // created on the first embeddings request
  std::optional<chat::ModelChatTemplate> template_;
  ToolCallFormat tool_format_ = ToolCallFormat::kGeneric;  // from the template's source
  bool thinking_template_ = false;
  ToolMessageStyle tool_message_style_;   // probed once from the template
  bool tools_in_system_message_ = false;  // Phi-4-mini: tools go into the system message
  bool split_reasoning_ = true;
};

}  // namespace hearth::server
