// Constrained sampling for tool calls the model chooses to make (the server's tool_choice
// "auto"): decoding is free until the output writes the opening of a call in its chat
// family's syntax (a trigger such as `<tool_call>`, or `{"name"` where a bare JSON call may
// start); from there the call's JSON is constrained by the JSON automaton (json_constraint.h)
// to a schema of the request's calls, its closing text (`</tool_call>`) is forced, and decoding
// is free again, so parallel calls and trailing text still work, up to `max_calls` calls.
//
// The output is watched as text, byte by byte, so a trigger split over several tokens (or a
// token that holds a trigger and the start of the call) is seen; a token whose text would
// complete a trigger and then continue it invalidly is refused like any invalid token.
// Whitespace inside a call is bounded (JsonConstraintOptions), so a weak model cannot pad a
// call forever. One instance per request; not thread-safe. The spec is immutable and shared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/sampler/json_constraint.h"

namespace hearth {

class Sampler;
class Tokenizer;
class JsonSchema;

struct CallTrigger {
  std::string open;   // the text that opens a call, e.g. "<tool_call>"
  std::string close;  // forced once the JSON is complete ("" : the JSON ends the call)
  bool list = false;  // the JSON is an array of calls (Mistral, Phi-4) rather than one call
};

struct CallConstraintSpec {
  std::vector<CallTrigger> triggers;
  // A JSON object that opens with {"name" at the start of the reply, or right after a call,
  // is a call too (Llama 3.x, the generic fallback). Only the object form: an array there is
  // as likely to be an answer as a list of calls.
  bool bare_json = false;
  // With bare_json: a '[' there opens a JSON value the reply parser reads as a call list (the
  // generic fallback). It is not constrained, but markers inside it are not calls either.
  bool bare_array = false;
  std::shared_ptr<const JsonSchema> call_schema;  // one call: {"name", "arguments"} union
  std::shared_ptr<const JsonSchema> list_schema;  // list triggers: an array of calls
  JsonConstraintOptions json;                     // whitespace bounds inside a call
  // Line breaks and blanks allowed between a call's JSON and its closing text.
  uint8_t max_close_newlines = 1;
  uint8_t max_close_blanks = 8;
  int max_calls = 1 << 20;  // parallel_tool_calls false: 1; the output ends after the last
  // Text inside <think> ... </think> at the start of the reply is reasoning, not a call.
  bool thinking = false;
  bool starts_in_thinking = false;  // the prompt left a <think> open
  bool render_special = false;      // pieces are rendered as the detokenizer renders them
};

class CallConstraint {
 public:
  explicit CallConstraint(std::shared_ptr<const CallConstraintSpec> spec);

  // True when `text` can follow what was committed so far.
  bool accepts(std::string_view text) const;
  // Appends text that accepts() approved.
  void commit(std::string_view text);

  // Inside a call (its JSON or its closing text): the end of generation is not allowed.
  bool in_call() const { return state_.phase == Phase::kBody || state_.phase == Phase::kClose; }
  // `max_calls` calls are complete: nothing more may be written.
  bool finished() const { return state_.phase == Phase::kDone; }
  int calls() const { return state_.calls; }

  // Samples a token that keeps the output valid and commits it: any token outside a call,
  // only continuations of the call inside one. Returns an end-of-generation token once
  // finished() (or -1 if the vocabulary has none), and when no token can continue a call.
  int32_t sample(Sampler& sampler, std::span<const float> logits, const Tokenizer& tokenizer);

 private:
  enum class Phase : uint8_t { kFree, kBody, kClose, kDone };
  struct State {
    Phase phase = Phase::kFree;
    std::string tail;         // the last bytes of free text: a trigger may be split
    bool at_start = true;     // nothing but whitespace written yet
    std::string lead;         // at the start: text that may be "<think>"
    bool thinking = false;    // inside the reply's reasoning
    bool at_boundary = true;  // only whitespace since the start or the last call
    std::string bare;         // text since a '{' at a boundary that may become {"name"
    int region_depth = 0;     // > 0: inside a JSON value that opened at a boundary
    bool region_string = false, region_escape = false;
    std::optional<JsonConstraint> json;  // the call being written
    const CallTrigger* trigger = nullptr;
    size_t close_matched = 0;
    uint8_t close_newlines = 0, close_blanks = 0;
    int calls = 0;
  };

  // Feeds `text` into `s`; false when some byte cannot be written there.
  bool feed(State& s, std::string_view text) const;
  bool feed_free(State& s, std::string_view text, size_t& i) const;
  bool feed_close(State& s, unsigned char c) const;
  static void track_region(State& s, unsigned char c);
  void start_call(State& s, const CallTrigger* trigger) const;
  void end_call(State& s) const;

  std::shared_ptr<const CallConstraintSpec> spec_;
  size_t longest_marker_ = 0;
  // Each token's first byte (-1: empty), rendered once when a draw first has to search the
  // vocabulary for a valid token.
  std::vector<int16_t> first_byte_;
  State state_;
};

}  // namespace hearth
