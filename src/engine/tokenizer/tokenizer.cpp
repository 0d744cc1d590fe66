#include "engine/tokenizer/tokenizer.h"

#include <algorithm>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/model.h"

namespace hearth {

using tokenizer_detail::Fragment;
using tokenizer_detail::Model;

Tokenizer::Tokenizer(std::shared_ptr<const Model> model) : model_(std::move(model)) {}

Result<Tokenizer> Tokenizer::from_gguf(const gguf::File& file) {
  auto model = tokenizer_detail::load_model(file);
  if (!model) return std::unexpected(Error{"tokenizer: " + model.error().message});
  return Tokenizer(std::shared_ptr<const Model>(std::move(*model)));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  const Model& model = *model_;
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  const std::vector<Fragment> fragments =
      tokenizer_detail::split_special_tokens(model, text, parse_special);

  switch (model.type) {
    case VocabType::kSentencePiece: {
      if (add_special && model.add_bos && model.bos >= 0) out.push_back(model.bos);
      // The prefix space goes in front of the text and again after every special token, as
      // SentencePiece would see each stretch of text as a sentence of its own.
      bool after_special = true;
      std::string with_prefix;
      for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
          out.push_back(fragment.token);
          after_special = true;
          continue;
        }
        if (model.add_space_prefix && after_special) {
          with_prefix.clear();
          with_prefix.push_back(' ');
          with_prefix.append(fragment.text);
          tokenizer_detail::encode_spm(model, with_prefix, out);
        } else {
          tokenizer_detail::encode_spm(model, fragment.text, out);
        }
        after_special = false;
      }
      if (add_special && model.add_eos && model.eos >= 0) out.push_back(model.eos);
      break;
    }
    case VocabType::kBytePairEncoding:
      if (add_special && model.add_bos && model.bos >= 0) out.push_back(model.bos);
      for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
          out.push_back(fragment.token);
        } else {
          tokenizer_detail::encode_bpe(model, fragment.text, out);
        }
      }
      if (add_special && model.add_eos && model.eos >= 0) out.push_back(model.eos);
      break;
    case VocabType::kWordPiece:
      if (add_special && model.add_bos && model.cls >= 0) out.push_back(model.cls);
      for (const Fragment& fragment : fragments) {
        if (fragment.token >= 0) {
          out.push_back(fragment.token);
        } else {
          tokenizer_detail::encode_wordpiece(model, fragment.text, out);
        }
      }
      if (add_special && model.add_sep && model.sep >= 0) out.push_back(model.sep);
      break;
  }
  return out;
}

int32_t Tokenizer::n_vocab() const {
  return model_->n_vocab();
}
int32_t Tokenizer::bos_id() const {
  return model_->bos;
}
int32_t Tokenizer::eos_id() const {
  return model_->eos;
}
int32_t Tokenizer::eot_id() const {
  return model_->eot;
}
int32_t Tokenizer::unknown_id() const {
  return model_->unk;
}
int32_t Tokenizer::padding_id() const {
  return model_->pad;
}
bool Tokenizer::add_bos() const {
  return model_->add_bos;
}
bool Tokenizer::add_eos() const {
  return model_->add_eos;
}
VocabType Tokenizer::type() const {
  return model_->type;
}
std::string_view Tokenizer::pre_tokenizer() const {
  return model_->pre_name;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(model_->end_of_generation_ids.begin(),
                            model_->end_of_generation_ids.end(), id);
}

std::string_view Tokenizer::token_text(int32_t id) const {
  return model_->valid(id) ? std::string_view(model_->tokens[id].text) : std::string_view();
}

TokenType Tokenizer::token_type(int32_t id) const {
  return model_->valid(id) ? model_->tokens[id].type : TokenType::kUndefined;
}

bool Tokenizer::is_special(int32_t id) const {
  const TokenType type = token_type(id);
  return type == TokenType::kControl || type == TokenType::kUnknown ||
         type == TokenType::kUserDefined || type == TokenType::kUnused;
}

int32_t Tokenizer::find_token(std::string_view text) const {
  return model_->find(text);
}

}  // namespace hearth
