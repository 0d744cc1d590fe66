#include "engine/chat/model_template.h"

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth::chat {

const char* const kFallbackChatTemplate =
    "{%- for message in messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

Result<ModelChatTemplate> model_chat_template(const gguf::File& file, const Tokenizer& tokenizer) {
  auto source = file.get_string_or("tokenizer.chat_template", "");
  if (!source) return std::unexpected(source.error());
  const bool fallback = source->empty();
  auto parsed = ChatTemplate::parse(fallback ? std::string_view(kFallbackChatTemplate) : *source);
  if (!parsed) {
    return fail("the model's chat template does not parse: " + parsed.error().message);
  }
  ModelChatTemplate out{std::move(*parsed),
                        fallback,
                        {},
                        {},
                        std::string(fallback ? std::string_view(kFallbackChatTemplate) : *source)};
  if (tokenizer.bos_id() >= 0)
    out.bos_token = std::string(tokenizer.token_text(tokenizer.bos_id()));
  if (tokenizer.eos_id() >= 0)
    out.eos_token = std::string(tokenizer.token_text(tokenizer.eos_id()));
  return out;
}

Result<std::vector<int32_t>> chat_prompt_tokens(const ModelChatTemplate& model,
                                                const Tokenizer& tokenizer, ChatRequest request,
                                                std::string* rendered) {
  request.bos_token = model.bos_token;
  request.eos_token = model.eos_token;
  auto text = apply_chat_template(model.chat_template, request);
  if (!text) return std::unexpected(text.error());
  if (rendered) *rendered = *text;
  std::vector<int32_t> ids = tokenizer.encode(*text, /*add_special=*/true, /*parse_special=*/true);
  const int32_t bos = tokenizer.bos_id();
  if (bos >= 0 && ids.size() >= 2 && ids[0] == bos && ids[1] == bos) ids.erase(ids.begin());
  return ids;
}

}  // namespace hearth::chat
