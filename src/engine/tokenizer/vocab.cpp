// Loading a vocabulary from GGUF metadata, with every cross-reference checked.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <string>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/model.h"

namespace hearth::tokenizer_detail {

namespace {

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads an optional token id. Absent keys, the "none" marker (-1 stored as uint32 max) and ids
// past the vocabulary all leave `id` unchanged, as the reference does: a stray special id
// should not make the whole model unusable.
Status read_token_id(const gguf::File& file, std::string_view key, int32_t n_vocab, int32_t& id) {
  if (file.find(key) == nullptr) return ok();
  auto value = file.get_int(key);
  if (!value) return std::unexpected(value.error());
  if (*value >= 0 && *value < n_vocab) id = static_cast<int32_t>(*value);
  return ok();
}

Status read_flag(const gguf::File& file, std::string_view key, bool& flag) {
  auto value = file.get_bool_or(key, flag);
  if (!value) return std::unexpected(value.error());
  flag = *value;
  return ok();
}

Status load_merges(const gguf::File& file, Model& model) {
  auto merges = file.get_string_array("tokenizer.ggml.merges");
  if (!merges) return fail("byte-level BPE vocabulary without merges: " + merges.error().message);
  model.merge_ranks.reserve(merges->size());
  for (size_t rank = 0; rank < merges->size(); ++rank) {
    const std::string_view merge = (*merges)[rank];
    // One space separates the halves; neither half can hold a space in byte-level text.
    const size_t space = merge.find(' ', 1);
    const auto bad = [&](std::string_view why) {
      return fail("merge " + std::to_string(rank) + " '" + std::string(merge) + "' " +
                  std::string(why));
    };
    if (space == std::string_view::npos) return bad("is not two tokens separated by a space");
    const std::string_view left = merge.substr(0, space);
    const std::string_view right = merge.substr(space + 1);
    const int32_t left_id = model.find(left);
    const int32_t right_id = model.find(right);
    if (left_id < 0 || right_id < 0) return bad("refers to a token not in the vocabulary");
    if (model.find(std::string(left) + std::string(right)) < 0) {
      return bad("produces a token not in the vocabulary");
    }
    const uint64_t key = (static_cast<uint64_t>(left_id) << 32) | static_cast<uint32_t>(right_id);
    // The first (lowest) rank of a repeated merge is the one that applies.
    model.merge_ranks.emplace(key, static_cast<int32_t>(rank));
  }
  return ok();
}

bool is_special_type(TokenType type) {
  return type == TokenType::kControl || type == TokenType::kUserDefined ||
         type == TokenType::kUnknown;
}

// GGUF stores no per-token strip flags; the reference derives them from the model's name and
// pre-tokenizer, and so must we to produce the same ids.
void apply_model_specific_rules(Model& model) {
  const bool phi3 = model.model_name.find("phi-3") != std::string::npos ||
                    model.model_name.find("phi3") != std::string::npos;
  if (phi3) {
    // Phi-3's chat markers swallow the whitespace after them, and </s> does too; <unk>, <s>
    // and <|endoftext|> do not.
    for (TokenData& token : model.tokens) {
      if (is_special_type(token.type)) token.strip_right = true;
    }
    if (int32_t id = model.find("</s>"); id >= 0) model.tokens[id].strip_right = true;
    for (std::string_view text : {"<unk>", "<s>", "<|endoftext|>"}) {
      if (int32_t id = model.find(text); id >= 0) model.tokens[id].strip_right = false;
    }
  } else if (model.pre_name == "jina-v2-de" || model.pre_name == "jina-v2-es" ||
             model.pre_name == "jina-v2-code") {
    if (int32_t id = model.find("<mask>"); id >= 0) model.tokens[id].strip_left = true;
  }
}

void collect_end_of_generation(Model& model) {
  std::vector<int32_t>& ids = model.end_of_generation_ids;
  for (int32_t id : {model.eos, model.eot, model.eom}) {
    if (id >= 0) ids.push_back(id);
  }
  // Chat models end turns with markers other than their EOS; recognise the common ones when
  // they are special tokens (a normal token spelled the same is ordinary text).
  static constexpr std::string_view kEndMarkers[] = {
      "<|eot_id|>",           "<|im_end|>", "<|end|>",    "<end_of_turn>",
      "<|endoftext|>",        "<|eom_id|>", "<EOT>",      "_<EOT>",
      "<|end_of_text|>",      "<|EOT|>",    "<|return|>", "<|call|>",
      "<｜end▁of▁sentence｜>"};
  for (std::string_view marker : kEndMarkers) {
    const int32_t id = model.find(marker);
    if (id < 0) continue;
    const TokenType type = model.tokens[id].type;
    if (type == TokenType::kControl || type == TokenType::kUserDefined) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

}  // namespace

Result<std::shared_ptr<Model>> load_model(const gguf::File& file) {
  auto model = std::make_shared<Model>();

  auto model_kind = file.get_string("tokenizer.ggml.model");
  if (!model_kind) return std::unexpected(model_kind.error());
  if (*model_kind == "llama") {
    model->type = VocabType::kSentencePiece;
  } else if (*model_kind == "gpt2") {
    model->type = VocabType::kBytePairEncoding;
  } else if (*model_kind == "bert") {
    model->type = VocabType::kWordPiece;
  } else {
    return fail("unsupported tokenizer model '" + std::string(*model_kind) + "'");
  }
  auto pre_name = file.get_string_or("tokenizer.ggml.pre", "default");
  if (!pre_name) return std::unexpected(pre_name.error());
  model->pre_name = std::string(*pre_name);
  auto general_name = file.get_string_or("general.name", "");
  if (!general_name) return std::unexpected(general_name.error());
  model->model_name = lower_ascii(*general_name);

  auto texts = file.get_string_array("tokenizer.ggml.tokens");
  if (!texts) return std::unexpected(texts.error());
  if (texts->empty()) return fail("tokenizer.ggml.tokens is empty");
  if (texts->size() > static_cast<size_t>(INT32_MAX)) return fail("vocabulary too large");
  const auto n_vocab = static_cast<int32_t>(texts->size());

  model->tokens.resize(texts->size());
  model->token_to_id.reserve(texts->size());
  for (int32_t id = 0; id < n_vocab; ++id) {
    model->tokens[id].text = std::string((*texts)[id]);
    model->token_to_id[model->tokens[id].text] = id;
  }

  if (file.find("tokenizer.ggml.scores") != nullptr) {
    auto scores = file.get_float_array("tokenizer.ggml.scores");
    if (!scores) return std::unexpected(scores.error());
    if (scores->size() != texts->size()) {
      return fail("tokenizer.ggml.scores has " + std::to_string(scores->size()) + " entries for " +
                  std::to_string(n_vocab) + " tokens");
    }
    for (int32_t id = 0; id < n_vocab; ++id) model->tokens[id].score = (*scores)[id];
  }
  if (file.find("tokenizer.ggml.token_type") != nullptr) {
    auto types = file.get_int_array("tokenizer.ggml.token_type");
    if (!types) return std::unexpected(types.error());
    if (types->size() != texts->size()) {
      return fail("tokenizer.ggml.token_type has " + std::to_string(types->size()) +
                  " entries for " + std::to_string(n_vocab) + " tokens");
    }
    for (int32_t id = 0; id < n_vocab; ++id) {
      const int64_t type = (*types)[id];
      if (type < 0 || type > static_cast<int64_t>(TokenType::kByte)) {
        return fail("token " + std::to_string(id) + " has unknown type " + std::to_string(type));
      }
      // Undefined behaves as normal text.
      model->tokens[id].type = type == 0 ? TokenType::kNormal : static_cast<TokenType>(type);
    }
  }

  // Family defaults, then whatever the metadata says.
  switch (model->type) {
    case VocabType::kSentencePiece:
      model->bos = model->valid(1) ? 1 : -1;
      model->eos = model->valid(2) ? 2 : -1;
      model->unk = 0;
      model->add_bos = true;
      model->add_space_prefix = true;
      break;
    case VocabType::kBytePairEncoding: {
      model->pre_tokenizer = nullptr;
      auto spec = pre_tokenizer_spec(model->pre_name);
      if (!spec) return std::unexpected(spec.error());
      auto compiled = PreTokenizer::compile(*spec);
      if (!compiled) return std::unexpected(compiled.error());
      model->pre_tokenizer = std::move(*compiled);
      model->ignore_merges = spec->ignore_merges;
      model->add_bos = spec->add_bos;
      if (auto status = load_merges(file, *model); !status) return std::unexpected(status.error());
      break;
    }
    case VocabType::kWordPiece:
      model->unk = model->find("[UNK]");
      model->cls = model->find("[CLS]");
      model->sep = model->find("[SEP]");
      model->pad = model->find("[PAD]");
      model->mask = model->find("[MASK]");
      model->add_bos = true;
      model->add_sep = true;
      break;
  }

  struct IdKey {
    std::string_view key;
    int32_t* id;
  };
  const IdKey id_keys[] = {
      {"tokenizer.ggml.bos_token_id", &model->bos},
      {"tokenizer.ggml.eos_token_id", &model->eos},
      {"tokenizer.ggml.eot_token_id", &model->eot},
      {"tokenizer.ggml.eom_token_id", &model->eom},
      {"tokenizer.ggml.unknown_token_id", &model->unk},
      {"tokenizer.ggml.padding_token_id", &model->pad},
      {"tokenizer.ggml.seperator_token_id", &model->sep},  // the GGUF spelling
      {"tokenizer.ggml.separator_token_id", &model->sep},
      {"tokenizer.ggml.cls_token_id", &model->cls},
      {"tokenizer.ggml.mask_token_id", &model->mask},
  };
  for (const IdKey& entry : id_keys) {
    if (auto status = read_token_id(file, entry.key, n_vocab, *entry.id); !status) {
      return std::unexpected(status.error());
    }
  }
  if (!model->valid(model->unk)) model->unk = -1;
  if (model->type == VocabType::kWordPiece) {
    // BERT starts with CLS and ends with SEP; GGUF may or may not name them BOS/EOS.
    if (model->bos < 0) model->bos = model->cls;
    if (model->eos < 0) model->eos = model->sep;
    if (model->cls < 0) model->cls = model->bos;
    if (model->sep < 0) model->sep = model->eos;
  }

  for (auto [key, flag] :
       {std::pair{"tokenizer.ggml.add_bos_token", &model->add_bos},
        std::pair{"tokenizer.ggml.add_eos_token", &model->add_eos},
        std::pair{"tokenizer.ggml.add_sep_token", &model->add_sep},
        std::pair{"tokenizer.ggml.add_space_prefix", &model->add_space_prefix},
        std::pair{"tokenizer.ggml.remove_extra_whitespaces", &model->remove_extra_whitespaces}}) {
    if (auto status = read_flag(file, key, *flag); !status) return std::unexpected(status.error());
  }

  std::fill(std::begin(model->byte_tokens), std::end(model->byte_tokens), -1);
  if (model->type == VocabType::kSentencePiece) {
    for (int byte = 0; byte < 256; ++byte) {
      char name[8];
      std::snprintf(name, sizeof(name), "<0x%02X>", byte);
      int32_t id = model->find(name);
      // Vocabularies without byte tokens fall back to the character itself.
      if (id < 0) id = model->find(std::string(1, static_cast<char>(byte)));
      model->byte_tokens[byte] = id;
    }
  }

  for (const TokenData& token : model->tokens) {
    model->max_token_bytes = std::max(model->max_token_bytes, token.text.size());
    if (model->type == VocabType::kWordPiece && token.type == TokenType::kNormal &&
        std::any_of(token.text.begin(), token.text.end(),
                    [](char c) { return c >= 'A' && c <= 'Z'; })) {
      model->wordpiece_uncased = false;
    }
  }

  apply_model_specific_rules(*model);

  for (int32_t id = 0; id < n_vocab; ++id) {
    if (is_special_type(model->tokens[id].type)) model->special_tokens_by_length.push_back(id);
  }
  std::stable_sort(model->special_tokens_by_length.begin(), model->special_tokens_by_length.end(),
                   [&](int32_t a, int32_t b) {
                     return model->tokens[a].text.size() > model->tokens[b].text.size();
                   });

  collect_end_of_generation(*model);
  return model;
}

}  // namespace hearth::tokenizer_detail
