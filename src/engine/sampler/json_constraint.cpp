#include "engine/sampler/json_constraint.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "engine/sampler/json_schema.h"
#include "engine/sampler/sampler.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth {
namespace {

constexpr size_t kMaxDepth = 64;
constexpr int kRedraws = 32;

bool is_ws(unsigned char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}
bool is_digit(unsigned char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(unsigned char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool allows(const SchemaNode* schema, uint8_t bits) {
  return !schema || (schema->types & bits);
}

// A closed object whose declared properties are all written can take no further key: a
// comma (or a key) there would leave the automaton with no valid continuation.
bool no_key_left(const SchemaNode* schema, const std::vector<std::string>& seen) {
  if (!schema || !schema->closed) return false;
  for (const auto& [name, node] : schema->properties) {
    if (std::find(seen.begin(), seen.end(), name) == seen.end()) return false;
  }
  return true;
}

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

}  // namespace

JsonConstraint::JsonConstraint() = default;

JsonConstraint::JsonConstraint(std::shared_ptr<const JsonSchema> schema,
                               JsonConstraintOptions options)
    : schema_(std::move(schema)) {
  if (schema_) state_.next_value = &schema_->root();
  state_.limits = options;
}

bool JsonConstraint::whitespace(State& s, unsigned char c) {
  if (!is_ws(c)) return false;
  if ((c == '\n' || c == '\r') && ++s.newline_run > s.limits.max_newlines) return false;
  return ++s.whitespace_run <= s.limits.max_whitespace_run;
}

bool JsonConstraint::open_container(State& s, unsigned char c, const SchemaNode* schema) {
  if (s.stack.size() >= kMaxDepth) return false;
  if (!allows(schema, c == '{' ? kJsonObject : kJsonArray)) return false;
  s.stack.push_back(static_cast<char>(c));
  s.frames.push_back({schema, {}});
  if (c == '{') {
    s.mode = Mode::kObjectKeyOrClose;
  } else {
    s.mode = Mode::kValueOrClose;
    s.next_value = schema ? schema->items : nullptr;
  }
  return true;
}

bool JsonConstraint::close_container(State& s, unsigned char c) {
  const Frame& frame = s.frames.back();
  if (c == '}' && frame.schema) {
    for (const auto& name : frame.schema->required) {
      if (std::find(frame.seen_keys.begin(), frame.seen_keys.end(), name) ==
          frame.seen_keys.end()) {
        return false;  // a required property is still missing
      }
    }
  }
  s.stack.pop_back();
  s.frames.pop_back();
  s.mode = s.stack.empty() ? Mode::kDone : Mode::kAfterValue;
  return true;
}

bool JsonConstraint::begin_value(State& s, unsigned char c) {
  const SchemaNode* schema = s.next_value;
  switch (c) {
    case '{':
    case '[': return open_container(s, c, schema);
    case '"':
      if (!allows(schema, kJsonString)) return false;
      s.mode = Mode::kString;
      s.string_is_key = false;
      s.string_schema = schema;
      s.text.clear();
      return true;
    case 't':
    case 'f':
      if (!allows(schema, kJsonBoolean)) return false;
      s.mode = Mode::kLiteral;
      s.literal_rest = c == 't' ? "rue" : "alse";
      return true;
    case 'n':
      if (!allows(schema, kJsonNull)) return false;
      s.mode = Mode::kLiteral;
      s.literal_rest = "ull";
      return true;
    default:
      if (c != '-' && !is_digit(c)) return false;
      if (!allows(schema, kJsonNumber | kJsonInteger)) return false;
      s.integer_only = schema && !(schema->types & kJsonNumber);
      s.mode = c == '-' ? Mode::kNumberSign : c == '0' ? Mode::kNumberZero : Mode::kNumberInt;
      return true;
  }
}

// After a complete value inside a container: a comma, or the container's closing bracket.
bool JsonConstraint::after_value(State& s, unsigned char c) {
  if (whitespace(s, c)) return true;
  if (s.stack.empty()) return false;
  const char open = s.stack.back();
  Frame& frame = s.frames.back();
  if (c == ',') {
    if (open == '{') {
      if (no_key_left(frame.schema, frame.seen_keys)) return false;
      s.mode = Mode::kObjectKey;
    } else {
      if (frame.schema && frame.items + 1 >= frame.schema->max_items) return false;
      ++frame.items;
      s.mode = Mode::kValue;
      s.next_value = frame.schema ? frame.schema->items : nullptr;
    }
    return true;
  }
  if (open == '[' && c == ']') {
    if (frame.schema && frame.items + 1 < frame.schema->min_items) return false;
    return close_container(s, c);
  }
  if (open == '{' && c == '}') return close_container(s, c);
  return false;
}

// One more byte of a string's raw text; keys of closed objects and enum strings must stay a
// prefix of an allowed value.
bool JsonConstraint::string_char(State& s, unsigned char c) {
  s.text.push_back(static_cast<char>(c));
  if (s.string_is_key) {
    const Frame& frame = s.frames.back();
    if (!frame.schema || !frame.schema->closed) return true;
    for (const auto& [name, node] : frame.schema->properties) {
      (void)node;
      if (starts_with(name, s.text) && std::find(frame.seen_keys.begin(), frame.seen_keys.end(),
                                                 name) == frame.seen_keys.end()) {
        return true;
      }
    }
    return false;
  }
  if (!s.string_schema || s.string_schema->string_enum.empty()) return true;
  for (const auto& value : s.string_schema->string_enum) {
    if (starts_with(value, s.text)) return true;
  }
  return false;
}

bool JsonConstraint::end_string(State& s) {
  if (!s.string_is_key) {
    if (s.string_schema && !s.string_schema->string_enum.empty()) {
      const auto& allowed = s.string_schema->string_enum;
      if (std::find(allowed.begin(), allowed.end(), s.text) == allowed.end()) return false;
    }
    s.mode = Mode::kAfterValue;
    // A discriminated union's tag is written: the rest of the object follows its branch.
    Frame& frame = s.frames.back();
    if (frame.schema && !frame.schema->discriminator.empty() && frame.seen_keys.size() == 1 &&
        frame.seen_keys.front() == frame.schema->discriminator) {
      const SchemaNode* branch = frame.schema->variant(s.text);
      if (!branch) return false;
      frame.schema = branch;
    }
    return true;
  }
  Frame& frame = s.frames.back();
  if (std::find(frame.seen_keys.begin(), frame.seen_keys.end(), s.text) != frame.seen_keys.end()) {
    return false;  // duplicate key
  }
  const SchemaNode* property = frame.schema ? frame.schema->property(s.text) : nullptr;
  if (frame.schema && frame.schema->closed && !property) return false;
  frame.seen_keys.push_back(s.text);
  s.next_value = property;
  s.mode = Mode::kColon;
  return true;
}

bool JsonConstraint::feed(State& s, unsigned char c) {
  if (!is_ws(c)) s.whitespace_run = s.newline_run = 0;
  switch (s.mode) {
    case Mode::kStart:
      if (whitespace(s, c)) return true;
      if (c != '{' && !(c == '[' && s.limits.array_root && s.next_value)) return false;
      return open_container(s, c, s.next_value);
    case Mode::kObjectKeyOrClose:
      if (c == '}') return close_container(s, c);
      [[fallthrough]];
    case Mode::kObjectKey:
      if (whitespace(s, c)) return true;
      if (c != '"') return false;
      if (no_key_left(s.frames.back().schema, s.frames.back().seen_keys)) return false;
      s.mode = Mode::kString;
      s.string_is_key = true;
      s.text.clear();
      return true;
    case Mode::kColon:
      if (whitespace(s, c)) return true;
      if (c != ':') return false;
      s.mode = Mode::kValue;
      return true;
    case Mode::kValueOrClose:
      if (c == ']') {
        if (s.frames.back().schema && s.frames.back().schema->min_items > 0) return false;
        return close_container(s, c);
      }
      [[fallthrough]];
    case Mode::kValue:
      if (whitespace(s, c)) return true;
      return begin_value(s, c);
    case Mode::kString:
      if (c == '"') return end_string(s);
      if (c < 0x20) return false;  // raw control characters are not allowed inside strings
      if (c == '\\') s.mode = Mode::kEscape;
      return string_char(s, c);
    case Mode::kEscape:
      if (c == 'u') {
        s.mode = Mode::kUnicode;
        s.unicode_left = 4;
        return string_char(s, c);
      }
      if (std::string_view("\"\\/bfnrt").find(static_cast<char>(c)) == std::string_view::npos) {
        return false;
      }
      s.mode = Mode::kString;
      return string_char(s, c);
    case Mode::kUnicode:
      if (!is_hex(c)) return false;
      if (--s.unicode_left == 0) s.mode = Mode::kString;
      return string_char(s, c);
    case Mode::kNumberSign:
      if (c == '0') {
        s.mode = Mode::kNumberZero;
        return true;
      }
      if (c >= '1' && c <= '9') {
        s.mode = Mode::kNumberInt;
        return true;
      }
      return false;
    case Mode::kNumberInt:
      if (is_digit(c)) return true;
      [[fallthrough]];
    case Mode::kNumberZero:
      if (c == '.' && !s.integer_only) {
        s.mode = Mode::kNumberDot;
        return true;
      }
      if ((c == 'e' || c == 'E') && !s.integer_only) {
        s.mode = Mode::kNumberExp;
        return true;
      }
      s.mode = Mode::kAfterValue;
      return after_value(s, c);
    case Mode::kNumberDot:
      if (!is_digit(c)) return false;
      s.mode = Mode::kNumberFrac;
      return true;
    case Mode::kNumberFrac:
      if (is_digit(c)) return true;
      if (c == 'e' || c == 'E') {
        s.mode = Mode::kNumberExp;
        return true;
      }
      s.mode = Mode::kAfterValue;
      return after_value(s, c);
    case Mode::kNumberExp:
      if (c == '+' || c == '-') {
        s.mode = Mode::kNumberExpSign;
        return true;
      }
      [[fallthrough]];
    case Mode::kNumberExpSign:
      if (!is_digit(c)) return false;
      s.mode = Mode::kNumberExpDigits;
      return true;
    case Mode::kNumberExpDigits:
      if (is_digit(c)) return true;
      s.mode = Mode::kAfterValue;
      return after_value(s, c);
    case Mode::kLiteral:
      if (s.literal_rest.empty() || c != static_cast<unsigned char>(s.literal_rest.front())) {
        return false;
      }
      s.literal_rest.remove_prefix(1);
      if (s.literal_rest.empty()) s.mode = Mode::kAfterValue;
      return true;
    case Mode::kAfterValue: return after_value(s, c);
    case Mode::kDone: return false;
  }
  return false;
}

std::string JsonConstraint::closing_suffix() const {
  std::string out;
  switch (state_.mode) {
    case Mode::kStart: return "{}";
    case Mode::kDone: return "";
    case Mode::kObjectKey: out = "\"\":null"; break;  // after a comma: a key and value are owed
    case Mode::kColon: out = ":null"; break;
    case Mode::kValue: out = "null"; break;
    case Mode::kString: out = state_.string_is_key ? "\":null" : "\""; break;
    case Mode::kEscape: out = state_.string_is_key ? "n\":null" : "n\""; break;
    case Mode::kUnicode:
      out = std::string(state_.unicode_left, '0') + (state_.string_is_key ? "\":null" : "\"");
      break;
    case Mode::kNumberSign:
    case Mode::kNumberDot:
    case Mode::kNumberExp:
    case Mode::kNumberExpSign: out = "0"; break;
    case Mode::kLiteral: out = std::string(state_.literal_rest); break;
    case Mode::kObjectKeyOrClose:
    case Mode::kValueOrClose:
    case Mode::kNumberZero:
    case Mode::kNumberInt:
    case Mode::kNumberFrac:
    case Mode::kNumberExpDigits:
    case Mode::kAfterValue: break;
  }
  for (auto it = state_.stack.rbegin(); it != state_.stack.rend(); ++it)
    out += *it == '{' ? '}' : ']';
  return out;
}

bool JsonConstraint::accepts(std::string_view text) const {
  if (text.empty()) return false;
  State s = state_;
  for (char c : text) {
    if (!feed(s, static_cast<unsigned char>(c))) return false;
  }
  return true;
}

void JsonConstraint::commit(std::string_view text) {
  for (char c : text) feed(state_, static_cast<unsigned char>(c));
}

bool JsonConstraint::advance(std::string_view text, size_t& used) {
  used = 0;
  while (used < text.size() && !complete()) {
    if (!feed(state_, static_cast<unsigned char>(text[used]))) return false;
    ++used;
  }
  return true;
}

int32_t JsonConstraint::sample(Sampler& sampler, std::span<const float> logits,
                               const Tokenizer& tokenizer) {
  const int32_t eos = tokenizer.eos_id();
  if (complete()) return eos;
  std::vector<float> masked(logits.begin(), logits.end());
  constexpr float kBanned = -std::numeric_limits<float>::infinity();
  auto usable = [&](int32_t id) {
    if (tokenizer.is_end_of_generation(id)) return false;  // not before the object is closed
    const std::string piece = tokenizer.token_to_piece(id);
    return accepts(piece);
  };
  for (int attempt = 0; attempt < kRedraws; ++attempt) {
    const int32_t id = sampler.sample(masked);
    if (usable(id)) {
      commit(tokenizer.token_to_piece(id));
      return id;
    }
    masked[id] = kBanned;
  }
  // The model keeps proposing invalid tokens: take the most likely valid one.
  std::vector<int32_t> order(masked.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return masked[a] > masked[b]; });
  for (int32_t id : order) {
    if (masked[id] == kBanned) continue;
    if (usable(id)) {
      commit(tokenizer.token_to_piece(id));
      return id;
    }
  }
  return eos;
}

}  // namespace hearth
