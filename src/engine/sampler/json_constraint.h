// Constrained sampling for JSON output (the server's response_format json_object and
// json_schema): the output must be one JSON object.
//
// A byte-level pushdown automaton tracks where in the JSON grammar the output is. Sampling
// draws a token as usual and keeps it only if its text can continue a valid object; otherwise
// that token is masked and the draw repeated, so the common case costs one check. Whitespace
// runs are bounded so a model cannot pad forever. One instance per request; not thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hearth {

class Sampler;
class Tokenizer;

class JsonSchema;
struct SchemaNode;

struct JsonConstraintOptions {
  // Whitespace between two tokens of JSON: at most this many bytes, of which at most
  // `max_newlines` line breaks (\n or \r).
  uint8_t max_whitespace_run = 16;
  uint8_t max_newlines = 16;
  // The top level may be an array too, where the schema allows one (a list of tool calls).
  bool array_root = false;
};

class JsonConstraint {
 public:
  JsonConstraint();  // any JSON object
  // An object that also follows `schema` (the subset json_schema.h describes).
  explicit JsonConstraint(std::shared_ptr<const JsonSchema> schema,
                          JsonConstraintOptions options = {});

  // True when `text` can follow what was committed so far.
  bool accepts(std::string_view text) const;
  // Appends text that accepts() approved.
  void commit(std::string_view text);
  // Feeds `text` until the top-level value closes; `used` is how many bytes that took (all of
  // them when it is still open). False when a byte cannot continue the value: the state is
  // then unusable, so callers advance a copy when the text may be invalid.
  bool advance(std::string_view text, size_t& used);
  // The top-level object is closed.
  bool complete() const { return state_.mode == Mode::kDone; }

  // The shortest text that closes what was committed into one valid object (open strings,
  // half-written numbers and literals, missing values, open containers). Used when the token
  // budget runs out, so a length-limited json_object reply still parses.
  std::string closing_suffix() const;

  // Samples a token whose text keeps the output valid and commits it. Once the object is
  // complete, or when no token can continue it, returns an end-of-generation token (or -1 if
  // the vocabulary has none).
  int32_t sample(Sampler& sampler, std::span<const float> logits, const Tokenizer& tokenizer);

 private:
  enum class Mode : uint8_t {
    kStart,
    kObjectKeyOrClose,
    kObjectKey,
    kColon,
    kValue,
    kValueOrClose,
    kString,
    kEscape,
    kUnicode,
    kNumberSign,
    kNumberZero,
    kNumberInt,
    kNumberDot,
    kNumberFrac,
    kNumberExp,
    kNumberExpSign,
    kNumberExpDigits,
    kLiteral,
    kAfterValue,
    kDone,
  };
  struct Frame {
    const SchemaNode* schema = nullptr;  // null: unconstrained
    std::vector<std::string> seen_keys;
    size_t items = 0;  // arrays: elements completed before the current one
  };
  struct State {
    Mode mode = Mode::kStart;
    std::vector<char> stack;                    // '{' or '['
    std::vector<Frame> frames;                  // one per stack entry
    const SchemaNode* next_value = nullptr;     // schema of the value about to start
    const SchemaNode* string_schema = nullptr;  // schema of the value string being written
    std::string text;                           // raw content of the current string so far
    bool integer_only = false;                  // the number being written must be an integer
    bool string_is_key = false;
    uint8_t unicode_left = 0;
    std::string_view literal_rest;
    uint8_t whitespace_run = 0;
    uint8_t newline_run = 0;
    JsonConstraintOptions limits;
  };

  static bool feed(State& s, unsigned char c);
  static bool open_container(State& s, unsigned char c, const SchemaNode* schema);
  static bool close_container(State& s, unsigned char c);
  static bool string_char(State& s, unsigned char c);
  static bool end_string(State& s);
  static bool begin_value(State& s, unsigned char c);
  static bool after_value(State& s, unsigned char c);
  static bool whitespace(State& s, unsigned char c);

  std::shared_ptr<const JsonSchema> schema_;  // keeps the nodes the state points into alive
  State state_;
};

}  // namespace hearth
