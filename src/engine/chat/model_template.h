// The chat template of a model file: `tokenizer.chat_template` from its GGUF metadata, or,
// when the file has none, ChatML as a documented fallback. Shared by the server, `hearth chat`
// and `hearth chat-template -m`, so all three render a conversation identically.
#pragma once

#include <string>

#include "engine/chat/template.h"
#include "hearth/status.h"

namespace hearth {
namespace gguf {
class File;
}
class Tokenizer;
}  // namespace hearth

namespace hearth::chat {

// <|im_start|>role\ncontent<|im_end|>\n per message, then <|im_start|>assistant\n.
extern const char* const kFallbackChatTemplate;

struct ModelChatTemplate {
  ChatTemplate chat_template;
  bool is_fallback = false;  // the file had no template
  std::string bos_token;     // texts of the model's BOS/EOS tokens, for the template
  std::string eos_token;
  std::string source;  // the template's text (the fallback's when the file has none)
};

Result<ModelChatTemplate> model_chat_template(const gguf::File& file, const Tokenizer& tokenizer);

// Renders `request` (whose bos/eos tokens are filled in from `model`) and tokenizes it with
// the special tokens parsed and the BOS rule applied once: templates that write the BOS token
// themselves do not get a second one.
// `rendered`, when given, receives the prompt's text.
Result<std::vector<int32_t>> chat_prompt_tokens(const ModelChatTemplate& model,
                                                const Tokenizer& tokenizer, ChatRequest request,
                                                std::string* rendered = nullptr);

}  // namespace hearth::chat
