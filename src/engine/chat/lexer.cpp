#include "engine/chat/lexer.h"

#include <cctype>
#include <charconv>

#include "engine/chat/value.h"

namespace hearth::chat {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string rstrip(std::string_view s) {
  size_t end = s.size();
  while (end > 0 && is_space(s[end - 1])) --end;
  return std::string(s.substr(0, end));
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Python's "unicode-escape" decoding, which Jinja2 applies to string literals.
std::string unescape(std::string_view body, int line) {
  std::string out;
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\' || i + 1 >= body.size()) {
      out += c;
      continue;
    }
    char e = body[++i];
    auto hex = [&](size_t count) -> uint32_t {
      uint32_t value = 0;
      for (size_t k = 1; k <= count; ++k) {
        if (i + k >= body.size() || !std::isxdigit(static_cast<unsigned char>(body[i + k]))) {
          throw TemplateError("truncated escape sequence in string literal", line);
        }
        char h = body[i + k];
        value = value * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                       ? h - '0'
                                                       : std::tolower(h) - 'a' + 10);
      }
      i += count;
      return value;
    };
    switch (e) {
      case '\n': break;  // line continuation
      case '\\': out += '\\'; break;
      case '\'': out += '\''; break;
      case '"': out += '"'; break;
      case 'a': out += '\a'; break;
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': append_utf8(out, hex(2)); break;
      case 'u': append_utf8(out, hex(4)); break;
      case 'U': {
        uint32_t cp = hex(8);
        if (cp > 0x10FFFF) throw TemplateError("invalid \\U escape in string literal", line);
        append_utf8(out, cp);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t value = static_cast<uint32_t>(e - '0');
          for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7';
               ++k) {
            value = value * 8 + static_cast<uint32_t>(body[++i] - '0');
          }
          append_utf8(out, value);
        } else {
          out += '\\';
          out += e;
        }
    }
  }
  return out;
}

class Lexer {
 public:
  Lexer(std::string_view source, const LexOptions& options) : options_(options) {
    // Jinja2 normalizes newlines and, without keep_trailing_newline, drops one final newline.
    src_.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
      if (source[i] == '\r') {
        src_ += '\n';
        if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
      } else {
        src_ += source[i];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  std::vector<Token> run() {
    bool line_starting = true;
    while (pos_ < src_.size()) {
      size_t start = find_tag_start(pos_);
      if (start == std::string::npos) {
        emit_text(src_.substr(pos_), line_);
        advance_to(src_.size());
        break;
      }
      char kind = src_[start + 1];
      char sign = start + 2 < src_.size() ? src_[start + 2] : '\0';
      if (sign != '-' && sign != '+') sign = '\0';
      std::string text = src_.substr(pos_, start - pos_);
      int text_line = line_;
      if (sign == '-') {
        text = rstrip(text);
      } else if (sign != '+' && options_.lstrip_blocks && kind != '{') {
        size_t line_pos = text.rfind('\n');
        line_pos = line_pos == std::string::npos ? 0 : line_pos + 1;
        if (line_pos > 0 || line_starting) {
          bool blank = true;
          for (size_t i = line_pos; i < text.size(); ++i) blank = blank && is_space(text[i]);
          if (blank) text.resize(line_pos);
        }
      }
      emit_text(text, text_line);
      advance_to(start + 2 + (sign ? 1 : 0));
      int tag_line = line_;
      if (kind == '#') {
        lex_comment(tag_line);
      } else if (kind == '%' && try_raw(tag_line)) {
        // handled
      } else {
        lex_tag(kind == '{', tag_line);
      }
      line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
    }
    tokens_.push_back(Token{TokenType::kEof, "", line_});
    return std::move(tokens_);
  }

 private:
  size_t find_tag_start(size_t from) const {
    for (size_t i = src_.find('{', from); i != std::string::npos; i = src_.find('{', i + 1)) {
      if (i + 1 < src_.size() && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string::npos;
  }

  void advance_to(size_t target) {
    for (; pos_ < target; ++pos_) {
      if (src_[pos_] == '\n') ++line_;
    }
  }

  void emit_text(const std::string& text, int line) {
    if (!text.empty()) tokens_.push_back(Token{TokenType::kText, text, line});
  }

  // After a block or comment end: `-` eats all following whitespace, trim_blocks one newline.
  void finish_block_end(size_t end_pos, char sign) {
    advance_to(end_pos);
    if (sign == '-') {
      size_t p = pos_;
      while (p < src_.size() && is_space(src_[p])) ++p;
      advance_to(p);
    } else if (sign != '+' && options_.trim_blocks && pos_ < src_.size() && src_[pos_] == '\n') {
      advance_to(pos_ + 1);
    }
  }

  void lex_comment(int tag_line) {
    size_t end = src_.find("#}", pos_);
    if (end == std::string::npos) throw TemplateError("missing end of comment tag", tag_line);
    char sign = end > pos_ && (src_[end - 1] == '-' || src_[end - 1] == '+') ? src_[end - 1] : 0;
    finish_block_end(end + 2, sign);
  }

  // {% raw %}...{% endraw %} passes its body through untouched.
  bool try_raw(int tag_line) {
    size_t p = pos_;
    while (p < src_.size() && is_space(src_[p])) ++p;
    if (src_.compare(p, 3, "raw") != 0) return false;
    p += 3;
    while (p < src_.size() && is_space(src_[p])) ++p;
    char sign = 0;
    if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) sign = src_[p++];
    if (src_.compare(p, 2, "%}") != 0) return false;
    // The opening tag honours `-` but, unlike other tags, never trim_blocks.
    advance_to(p + 2);
    if (sign == '-') {
      size_t q = pos_;
      while (q < src_.size() && is_space(src_[q])) ++q;
      advance_to(q);
    }
    bool body_line_starting = pos_ > 0 && src_[pos_ - 1] == '\n';
    for (size_t search = pos_;;) {
      size_t open = src_.find("{%", search);
      if (open == std::string::npos) throw TemplateError("missing endraw for raw block", tag_line);
      size_t q = open + 2;
      char open_sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) open_sign = src_[q++];
      while (q < src_.size() && is_space(src_[q])) ++q;
      if (src_.compare(q, 6, "endraw") != 0) {
        search = open + 2;
        continue;
      }
      q += 6;
      while (q < src_.size() && is_space(src_[q])) ++q;
      char close_sign = 0;
      if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) close_sign = src_[q++];
      if (src_.compare(q, 2, "%}") != 0) throw TemplateError("malformed endraw tag", line_);
      std::string body = src_.substr(pos_, open - pos_);
      if (open_sign == '-') {
        body = rstrip(body);
      } else if (open_sign != '+' && options_.lstrip_blocks) {
        size_t line_pos = body.rfind('\n');
        line_pos = line_pos == std::string::npos ? 0 : line_pos + 1;
        bool blank = true;
        for (size_t i = line_pos; i < body.size(); ++i) blank = blank && is_space(body[i]);
        if (blank && (line_pos > 0 || body_line_starting)) body.resize(line_pos);
      }
      emit_text(body, line_);
      finish_block_end(q + 2, close_sign);
      return true;
    }
  }

  void lex_tag(bool is_var, int tag_line) {
    tokens_.push_back(Token{is_var ? TokenType::kVarBegin : TokenType::kBlockBegin, "", tag_line});
    const char* close = is_var ? "}}" : "%}";
    bool after_dot = false;
    int bracket_depth = 0;
    while (true) {
      while (pos_ < src_.size() && is_space(src_[pos_])) advance_to(pos_ + 1);
      if (pos_ >= src_.size()) {
        throw TemplateError(std::string("unexpected end of template, expected '") + close + "'",
                            tag_line);
      }
      char c = src_[pos_];
      // Like Jinja2, an end marker only counts outside brackets: `{{ {'a': {}} }}` is valid.
      bool balanced = bracket_depth == 0;
      if (balanced && (c == '-' || c == '+') && src_.compare(pos_ + 1, 2, close) == 0) {
        if (is_var && c == '+') {
          // `+}}` is not a marker for expressions; treat `+` as an operator.
        } else {
          tokens_.push_back(Token{is_var ? TokenType::kVarEnd : TokenType::kBlockEnd, "", line_});
          if (is_var) {
            advance_to(pos_ + 3);
            size_t p = pos_;
            while (p < src_.size() && is_space(src_[p])) ++p;
            advance_to(p);
          } else {
            finish_block_end(pos_ + 3, c);
          }
          return;
        }
      }
      if (balanced && src_.compare(pos_, 2, close) == 0) {
        tokens_.push_back(Token{is_var ? TokenType::kVarEnd : TokenType::kBlockEnd, "", line_});
        if (is_var) {
          advance_to(pos_ + 2);
        } else {
          finish_block_end(pos_ + 2, 0);
        }
        return;
      }
      bool was_after_dot = after_dot;
      after_dot = false;
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t end = pos_ + 1;
        while (end < src_.size() &&
               (std::isalnum(static_cast<unsigned char>(src_[end])) || src_[end] == '_')) {
          ++end;
        }
        tokens_.push_back(Token{TokenType::kName, src_.substr(pos_, end - pos_), line_});
        advance_to(end);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        lex_number(was_after_dot);
      } else if (c == '\'' || c == '"') {
        lex_string(c);
      } else {
        static const char* kTwoCharOps[] = {"**", "//", "==", "!=", "<=", ">="};
        std::string op;
        for (const char* candidate : kTwoCharOps) {
          if (src_.compare(pos_, 2, candidate) == 0) op = candidate;
        }
        if (op.empty()) {
          if (std::string_view("+-*/%~<>=()[]{},.:|;!").find(c) == std::string_view::npos) {
            throw TemplateError(std::string("unexpected character '") + c + "' in tag", line_);
          }
          if (c == '!') throw TemplateError("unexpected character '!' in tag", line_);
          op = std::string(1, c);
        }
        if (op == "(" || op == "[" || op == "{") ++bracket_depth;
        if ((op == ")" || op == "]" || op == "}") && bracket_depth > 0) --bracket_depth;
        tokens_.push_back(Token{TokenType::kOp, op, line_});
        advance_to(pos_ + op.size());
        after_dot = op == ".";
      }
    }
  }

  void lex_number(bool after_dot) {
    size_t end = pos_;
    auto digits = [&] {
      while (end < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[end])) ||
                                   (src_[end] == '_' && end + 1 < src_.size() &&
                                    std::isdigit(static_cast<unsigned char>(src_[end + 1]))))) {
        ++end;
      }
    };
    digits();
    bool is_float = false;
    if (!after_dot && end + 1 < src_.size() && src_[end] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[end + 1]))) {
      is_float = true;
      ++end;
      digits();
    }
    if (!after_dot && end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t exp = end + 1;
      if (exp < src_.size() && (src_[exp] == '+' || src_[exp] == '-')) ++exp;
      if (exp < src_.size() && std::isdigit(static_cast<unsigned char>(src_[exp]))) {
        is_float = true;
        end = exp;
        digits();
      }
    }
    std::string text;
    for (size_t i = pos_; i < end; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    Token token{is_float ? TokenType::kFloat : TokenType::kInt, text, line_};
    if (is_float) {
      token.float_value = std::strtod(text.c_str(), nullptr);
    } else {
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), token.int_value);
      if (ec != std::errc()) throw TemplateError("integer literal too large: " + text, line_);
    }
    tokens_.push_back(std::move(token));
    advance_to(end);
  }

  void lex_string(char quote) {
    size_t end = pos_ + 1;
    while (end < src_.size() && src_[end] != quote) {
      if (src_[end] == '\\') ++end;
      ++end;
    }
    if (end >= src_.size()) throw TemplateError("unterminated string literal", line_);
    int line = line_;
    std::string body = unescape(std::string_view(src_).substr(pos_ + 1, end - pos_ - 1), line);
    tokens_.push_back(Token{TokenType::kString, std::move(body), line});
    advance_to(end + 1);
  }

  std::string src_;
  LexOptions options_;
  size_t pos_ = 0;
  int line_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& options) {
  return Lexer(source, options).run();
}

}  // namespace hearth::chat
