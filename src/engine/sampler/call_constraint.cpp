#include "engine/sampler/call_constraint.h"

#include <algorithm>
#include <array>
#include <limits>
#include <numeric>

#include "engine/sampler/json_schema.h"
#include "engine/sampler/sampler.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth {
namespace {

constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";
constexpr std::string_view kBareKey = "\"name\"";
// Redraws before the valid tokens are searched for directly: each is a pass over the logits.
constexpr int kRedraws = 4;
constexpr size_t kHead = 512;
constexpr long kTier = 8192;

bool is_ws(unsigned char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

enum class BareMatch { kNo, kPartial, kFull };

// Whether `text` (which starts with '{') is, or may become, the opening of a bare JSON call:
// '{', a little whitespace, then "name".
BareMatch match_bare(std::string_view text, size_t max_blank) {
  size_t i = 1;
  while (i < text.size() && is_ws(static_cast<unsigned char>(text[i]))) ++i;
  if (i - 1 > max_blank) return BareMatch::kNo;
  const std::string_view rest = text.substr(i);
  if (rest.size() < kBareKey.size()) {
    return kBareKey.starts_with(rest) ? BareMatch::kPartial : BareMatch::kNo;
  }
  return rest == kBareKey ? BareMatch::kFull : BareMatch::kNo;
}

}  // namespace

CallConstraint::CallConstraint(std::shared_ptr<const CallConstraintSpec> spec)
    : spec_(std::move(spec)) {
  longest_marker_ = kThinkClose.size();
  for (const CallTrigger& t : spec_->triggers) {
    longest_marker_ = std::max(longest_marker_, t.open.size());
  }
  state_.thinking = spec_->thinking && spec_->starts_in_thinking;
  state_.at_start = spec_->thinking && !state_.thinking;
}

void CallConstraint::start_call(State& s, const CallTrigger* trigger) const {
  const bool list = trigger && trigger->list;
  JsonConstraintOptions options = spec_->json;
  options.array_root = list;
  s.json.emplace(list ? spec_->list_schema : spec_->call_schema, options);
  s.phase = Phase::kBody;
  s.trigger = trigger;
  s.close_matched = 0;
  s.close_newlines = s.close_blanks = 0;
  s.tail.clear();
  s.bare.clear();
  s.region_depth = 0;
  s.at_boundary = false;
}

void CallConstraint::end_call(State& s) const {
  ++s.calls;
  s.json.reset();
  s.trigger = nullptr;
  s.phase = s.calls >= spec_->max_calls ? Phase::kDone : Phase::kFree;
  // Another call may follow right away, bare or tagged, as the reply parser reads it.
  s.at_boundary = true;
  s.tail.clear();
  s.bare.clear();
}

bool CallConstraint::feed_free(State& s, std::string_view text, size_t& i) const {
  const auto c = static_cast<unsigned char>(text[i++]);
  s.tail.push_back(static_cast<char>(c));
  if (s.tail.size() > longest_marker_) s.tail.erase(0, s.tail.size() - longest_marker_);

  if (s.thinking) {
    // Calls are not looked for in reasoning, as the reply parser reads none there.
    if (s.tail.ends_with(kThinkClose)) {
      s.thinking = false;
      s.tail.clear();
    }
    return true;
  }
  if (s.at_start && !(s.lead.empty() && is_ws(c))) {
    s.lead.push_back(static_cast<char>(c));
    if (s.lead == kThinkOpen) {
      s.thinking = true;
      s.at_start = false;
      s.tail.clear();
      s.bare.clear();
      s.at_boundary = true;  // the '<' of <think> was not content either
      return true;
    }
    if (!kThinkOpen.starts_with(s.lead)) s.at_start = false;
  }

  if (s.region_depth > 0) {
    // Inside a bare JSON value that opened at a boundary: the reply parser reads it whole as
    // a call attempt (json_value_end: brackets outside strings), so markers inside it are
    // not calls. It is a call only if it opened with {"name".
    track_region(s, c);
    if (!s.bare.empty()) {
      s.bare.push_back(static_cast<char>(c));
      switch (match_bare(s.bare, spec_->json.max_whitespace_run)) {
        case BareMatch::kFull: {
          const std::string opened = s.bare;
          start_call(s, nullptr);
          size_t used = 0;
          // `{ "name"` is valid under the call schema (its tag comes first), so this holds.
          return s.json->advance(opened, used);
        }
        case BareMatch::kNo: s.bare.clear(); break;
        case BareMatch::kPartial: break;
      }
    }
    if (s.region_depth == 0) s.at_boundary = false;
    return true;
  }
  if (spec_->bare_json && s.at_boundary) {
    if (c == '{' || (c == '[' && spec_->bare_array)) {
      s.region_depth = 1;
      s.region_string = s.region_escape = false;
      if (c == '{') s.bare = "{";
      return true;
    }
    // Whitespace, and ';' between Llama's calls, keep the boundary (as the parser does).
    if (!is_ws(c) && c != ';') s.at_boundary = false;
  }
  for (const CallTrigger& t : spec_->triggers) {
    if (!t.open.empty() && s.tail.ends_with(t.open)) {
      start_call(s, &t);
      return true;
    }
  }
  return true;
}

void CallConstraint::track_region(State& s, unsigned char c) {
  if (s.region_string) {
    if (s.region_escape) {
      s.region_escape = false;
    } else if (c == '\\') {
      s.region_escape = true;
    } else if (c == '"') {
      s.region_string = false;
    }
    return;
  }
  if (c == '"') {
    s.region_string = true;
  } else if (c == '{' || c == '[') {
    ++s.region_depth;
  } else if (c == '}' || c == ']') {
    --s.region_depth;
  }
}

bool CallConstraint::feed_close(State& s, unsigned char c) const {
  const std::string& close = s.trigger->close;
  if (s.close_matched == 0 && is_ws(c)) {
    if (c == '\n' || c == '\r') return ++s.close_newlines <= spec_->max_close_newlines;
    return ++s.close_blanks <= spec_->max_close_blanks;
  }
  if (c != static_cast<unsigned char>(close[s.close_matched])) return false;
  if (++s.close_matched == close.size()) end_call(s);
  return true;
}

bool CallConstraint::feed(State& s, std::string_view text) const {
  size_t i = 0;
  while (i < text.size()) {
    switch (s.phase) {
      case Phase::kFree:
        if (!feed_free(s, text, i)) return false;
        break;
      case Phase::kBody: {
        size_t used = 0;
        if (!s.json->advance(text.substr(i), used)) return false;
        if (s.trigger && !s.trigger->close.empty()) {
          // The reply parser ends a call at its closing text wherever it appears, so a JSON
          // string must not hold it (that would cut the call short).
          s.tail.append(text.substr(i, used));
          if (s.tail.find(s.trigger->close) != std::string::npos) return false;
          const size_t keep = s.trigger->close.size() - 1;
          if (s.tail.size() > keep) s.tail.erase(0, s.tail.size() - keep);
        }
        i += used;
        if (s.json->complete()) {
          if (s.trigger && !s.trigger->close.empty()) {
            s.phase = Phase::kClose;
          } else {
            end_call(s);
          }
        }
        break;
      }
      case Phase::kClose:
        if (!feed_close(s, static_cast<unsigned char>(text[i]))) return false;
        ++i;
        break;
      case Phase::kDone: return false;
    }
  }
  return true;
}

bool CallConstraint::accepts(std::string_view text) const {
  if (text.empty()) return !in_call() && !finished();
  State s = state_;
  return feed(s, text);
}

void CallConstraint::commit(std::string_view text) {
  feed(state_, text);
}

int32_t CallConstraint::sample(Sampler& sampler, std::span<const float> logits,
                               const Tokenizer& tokenizer) {
  const int32_t eos = tokenizer.eos_id();
  if (finished()) return eos;
  // An end of generation is fine between calls, never inside one.
  auto usable = [&](int32_t id, std::string& piece) {
    if (tokenizer.is_end_of_generation(id)) return !in_call();
    // Inside a call's JSON, control and added tokens (a model's own markers) are no JSON
    // text: a weak or biased model would otherwise fill strings with them.
    if (state_.phase == Phase::kBody && tokenizer.is_special(id)) return false;
    piece = tokenizer.token_to_piece(id, spec_->render_special);
    return accepts(piece);
  };
  std::string piece;
  // Outside a call nearly every token is fine: the first draw needs no copy of the logits.
  int32_t id = sampler.sample(logits);
  if (usable(id, piece)) {
    commit(piece);
    return id;
  }
  std::vector<float> masked(logits.begin(), logits.end());
  constexpr float kBanned = -std::numeric_limits<float>::infinity();
  masked[static_cast<size_t>(id)] = kBanned;
  for (int attempt = 1; attempt < kRedraws; ++attempt) {
    id = sampler.sample(masked);
    piece.clear();
    if (usable(id, piece)) {
      commit(piece);
      return id;
    }
    masked[static_cast<size_t>(id)] = kBanned;
  }
  // The model keeps proposing invalid tokens (each redraw is a pass over the vocabulary):
  // keep only the valid tokens among the most likely few hundred and draw from those, so the
  // draw still follows the model's distribution. A valid token is nearly always there; if
  // not, the whole vocabulary is ranked and the most likely valid token taken.
  std::vector<int32_t> order(masked.size());
  std::iota(order.begin(), order.end(), 0);
  auto higher = [&](int32_t a, int32_t b) {
    return masked[static_cast<size_t>(a)] > masked[static_cast<size_t>(b)];
  };
  const auto head = order.begin() + static_cast<long>(std::min<size_t>(order.size(), kHead));
  std::partial_sort(order.begin(), head, order.end(), higher);
  std::vector<float> valid(masked.size(), kBanned);
  bool any = false;
  for (auto it = order.begin(); it != head; ++it) {
    const auto i = static_cast<size_t>(*it);
    if (masked[i] == kBanned) continue;
    piece.clear();
    if (usable(*it, piece)) {
      valid[i] = masked[i];
      any = true;
    }
  }
  if (any) {
    id = sampler.sample(valid);
    piece.clear();
    if (usable(id, piece)) {
      commit(piece);
      return id;
    }
  }
  // Ranked in tiers (each an O(vocabulary) selection and a small sort) rather than one full
  // sort: the valid token is usually in the first few thousand. Tokens whose first byte
  // cannot come next are skipped without rendering them (a piece is accepted only if its
  // first byte alone is: the automaton reads byte by byte).
  if (first_byte_.empty()) {
    first_byte_.resize(masked.size());
    for (size_t i = 0; i < masked.size(); ++i) {
      const std::string p =
          tokenizer.token_to_piece(static_cast<int32_t>(i), spec_->render_special);
      first_byte_[i] =
          p.empty() ? int16_t{-1} : static_cast<int16_t>(static_cast<unsigned char>(p[0]));
    }
  }
  std::array<bool, 256> first_ok{};
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    first_ok[static_cast<size_t>(b)] = accepts(std::string_view(&byte, 1));
  }
  for (auto begin = head; begin != order.end();) {
    const auto end = order.end() - begin > static_cast<long>(kTier) ? begin + kTier : order.end();
    std::nth_element(begin, end - 1, order.end(), higher);
    std::sort(begin, end, higher);
    for (auto it = begin; it != end; ++it) {
      const auto i = static_cast<size_t>(*it);
      if (masked[i] == kBanned) continue;
      if (first_byte_[i] >= 0 && !first_ok[static_cast<size_t>(first_byte_[i])]) continue;
      piece.clear();
      if (usable(*it, piece)) {
        commit(piece);
        return *it;
      }
    }
    begin = end;
  }
  return eos;
}

}  // namespace hearth
