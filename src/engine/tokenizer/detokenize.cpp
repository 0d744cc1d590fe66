// Token ids back to bytes: per token, for a whole sequence, and as a UTF-8-safe stream.
#include <string>

#include "engine/tokenizer/model.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace hearth {

using tokenizer_detail::Model;

namespace {

constexpr std::string_view kSpaceMarker = "\xE2\x96\x81";

std::string replace_space_markers(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text.substr(i, kSpaceMarker.size()) == kSpaceMarker) {
      out.push_back(' ');
      i += kSpaceMarker.size();
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "<0xAB>" -> 0xAB; -1 for anything else.
int parse_byte_token(std::string_view text) {
  if (text.size() != 6 || text.substr(0, 3) != "<0x" || text[5] != '>') return -1;
  const int high = hex_digit(text[3]);
  const int low = hex_digit(text[4]);
  return high < 0 || low < 0 ? -1 : high * 16 + low;
}

std::string decode_byte_level(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const auto cp = tokenizer_detail::decode_utf8(text, pos);
    if (!cp) {
      out.push_back(text[pos++]);
      continue;
    }
    const int byte = tokenizer_detail::unicode_to_byte(*cp);
    if (byte >= 0) {
      out.push_back(static_cast<char>(byte));
    } else {
      // Not a byte image (a damaged or unusual vocabulary): keep the character itself.
      out.append(text.substr(start, pos - start));
    }
  }
  return out;
}

bool is_special_type(TokenType type) {
  return type == TokenType::kControl || type == TokenType::kUnknown ||
         type == TokenType::kUserDefined;
}

}  // namespace

std::string Tokenizer::token_to_piece(int32_t id, bool render_special) const {
  const Model& model = *model_;
  if (!model.valid(id)) return {};
  const tokenizer_detail::TokenData& token = model.tokens[id];
  switch (token.type) {
    case TokenType::kControl:
    case TokenType::kUnknown: return render_special ? token.text : std::string();
    case TokenType::kUnused: return {};
    case TokenType::kUserDefined:
      // Added tokens are stored as plain text in every family.
      return token.text;
    case TokenType::kByte:
      if (const int byte = parse_byte_token(token.text); byte >= 0) {
        return std::string(1, static_cast<char>(byte));
      }
      break;
    case TokenType::kUndefined:
    case TokenType::kNormal: break;
  }
  switch (model.type) {
    case VocabType::kSentencePiece: return replace_space_markers(token.text);
    case VocabType::kBytePairEncoding: return decode_byte_level(token.text);
    case VocabType::kWordPiece:
      if (token.text.starts_with("##")) return token.text.substr(2);
      return replace_space_markers(token.text);
  }
  return token.text;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool render_special) const {
  const Model& model = *model_;
  std::string out;
  // encode() put a space in front of the text and after each special token; take exactly
  // those back out so that text survives the round trip.
  const bool strip_prefix_space = model.type == VocabType::kSentencePiece && model.add_space_prefix;
  bool after_special = true;
  for (int32_t id : ids) {
    std::string piece = token_to_piece(id, render_special);
    const bool special = model.valid(id) && is_special_type(model.tokens[id].type);
    if (strip_prefix_space && after_special && !special && !piece.empty() && piece[0] == ' ') {
      piece.erase(0, 1);
    }
    after_special = special;
    out += piece;
  }
  return out;
}

StreamingDecoder::StreamingDecoder(const Tokenizer& tokenizer, bool render_special)
    : tokenizer_(tokenizer), render_special_(render_special) {}

std::string StreamingDecoder::push(int32_t id) {
  pending_ += tokenizer_.token_to_piece(id, render_special_);
  // Emit everything up to a possibly incomplete character at the end; bytes that can never
  // become a character are replaced on the way.
  const size_t keep = tokenizer_detail::incomplete_utf8_suffix(pending_);
  const std::string_view ready(pending_.data(), pending_.size() - keep);
  std::string out = tokenizer_detail::sanitize_utf8(ready);
  pending_.erase(0, pending_.size() - keep);
  return out;
}

std::string StreamingDecoder::finish() {
  std::string out = tokenizer_detail::sanitize_utf8(pending_);
  pending_.clear();
  return out;
}

}  // namespace hearth
