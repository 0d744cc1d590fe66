// Splits a Jinja template into text and tag tokens, applying Jinja2's whitespace rules
// (trim_blocks, lstrip_blocks, `-`/`+` markers) while lexing, as Jinja2 itself does.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace hearth::chat {

enum class TokenType {
  kText,
  kVarBegin,    // {{
  kVarEnd,      // }}
  kBlockBegin,  // {%
  kBlockEnd,    // %}
  kName,
  kString,  // text holds the unescaped contents
  kInt,
  kFloat,
  kOp,  // text holds the operator
  kEof,
};

struct Token {
  TokenType type;
  std::string text;
  int line = 1;
  int64_t int_value = 0;
  double float_value = 0.0;
};

struct LexOptions {
  bool trim_blocks = true;
  bool lstrip_blocks = true;
};

// Throws TemplateError (with the line) on malformed input.
std::vector<Token> tokenize(std::string_view source, const LexOptions& options);

}  // namespace hearth::chat
