#include "engine/runtime/speculative.h"

#include <algorithm>
#include <string>

#include "engine/models/model_weights.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth {

std::string_view speculate_mode_name(SpeculateMode mode) {
  switch (mode) {
    case SpeculateMode::kOff: return "off";
    case SpeculateMode::kLookup: return "lookup";
    case SpeculateMode::kDraft: return "draft";
  }
  return "off";
}

Result<SpeculateMode> parse_speculate_mode(std::string_view name) {
  if (name == "off") return SpeculateMode::kOff;
  if (name == "lookup") return SpeculateMode::kLookup;
  if (name == "draft") return SpeculateMode::kDraft;
  return fail("speculate: '" + std::string(name) + "' is not one of off, lookup, draft");
}

Status SpeculativeParams::validate() const {
  constexpr int32_t kMaxDraft = 64;
  if (draft_max < 1 || draft_max > kMaxDraft) {
    return fail("speculate: draft_max = " + std::to_string(draft_max) + " is outside [1, " +
                std::to_string(kMaxDraft) + "]");
  }
  if (ngram_min < 1 || ngram_max < ngram_min || ngram_max > 16) {
    return fail("speculate: the n-gram range [" + std::to_string(ngram_min) + ", " +
                std::to_string(ngram_max) + "] must lie within [1, 16] and not be empty");
  }
  return ok();
}

void DraftLength::update(int32_t drafted, int32_t accepted) {
  if (drafted <= 0) return;
  if (accepted >= drafted) {
    current_ = std::min(max_, std::max(1, current_ * 2));
  } else {
    current_ = std::clamp(accepted + 1, 1, std::max(1, max_));
  }
}

std::vector<int32_t> lookup_draft(std::span<const int32_t> context, int32_t ngram_min,
                                  int32_t ngram_max, int32_t max_tokens) {
  std::vector<int32_t> draft;
  if (max_tokens <= 0) return draft;
  const auto size = static_cast<int64_t>(context.size());
  for (int64_t n = std::min<int64_t>(ngram_max, size - 1); n >= std::max(1, ngram_min); --n) {
    const auto tail = context.subspan(static_cast<size_t>(size - n));
    // The most recent occurrence that has at least one token after it (other than the tail).
    for (int64_t start = size - n - 1; start >= 0; --start) {
      if (!std::equal(tail.begin(), tail.end(), context.begin() + start)) continue;
      const int64_t from = start + n;
      const int64_t to = std::min(size, from + max_tokens);
      draft.assign(context.begin() + from, context.begin() + to);
      return draft;
    }
  }
  return draft;
}

Status check_draft_vocabulary(const Model& target, const Model& draft) {
  const Tokenizer& a = target.tokenizer();
  const Tokenizer& b = draft.tokenizer();
  const std::string names =
      "the draft model '" + draft.info().name + "' and the model '" + target.info().name + "'";
  if (a.n_vocab() != b.n_vocab()) {
    return fail(names + " have different vocabularies (" + std::to_string(b.n_vocab()) + " and " +
                std::to_string(a.n_vocab()) + " tokens); a draft model must share the tokenizer");
  }
  for (int32_t id = 0; id < a.n_vocab(); ++id) {
    if (a.token_text(id) != b.token_text(id)) {
      return fail(names + " have different vocabularies (token " + std::to_string(id) + " is '" +
                  std::string(b.token_text(id)) + "' in the draft and '" +
                  std::string(a.token_text(id)) + "' in the model)");
    }
  }
  return ok();
}

Result<std::unique_ptr<ModelDrafter>> ModelDrafter::create(std::shared_ptr<const Model> draft,
                                                           const Model& target,
                                                           const SessionOptions& options) {
  if (!draft) return fail("draft model: none given");
  if (draft->info().embedding_only) {
    return fail("draft model '" + draft->info().name + "' is an embedding model");
  }
  if (auto s = check_draft_vocabulary(target, *draft); !s) return std::unexpected(s.error());
  auto session = Session::create(std::move(draft), options);
  if (!session) return std::unexpected(session.error());
  const auto target_vocab = static_cast<int32_t>(target.weights().hp.n_vocab);
  return std::unique_ptr<ModelDrafter>(new ModelDrafter(std::move(*session), target_vocab));
}

Result<std::vector<int32_t>> ModelDrafter::draft(std::span<const int32_t> context,
                                                 int32_t max_tokens) {
  std::vector<int32_t> drafted;
  // The context and every drafted token but the last pass through the draft cache.
  const int64_t room =
      static_cast<int64_t>(session_.n_ctx()) - static_cast<int64_t>(context.size()) + 1;
  max_tokens = static_cast<int32_t>(std::min<int64_t>(max_tokens, room));
  if (max_tokens <= 0 || context.empty()) return drafted;
  session_.rewind(static_cast<int32_t>(reusable_prefix(cached_, context)));
  const auto common = static_cast<size_t>(session_.n_past());  // sliding windows may keep less
  cached_.resize(common);
  if (auto s = session_.decode(context.subspan(common)); !s) {
    cached_.clear();
    session_.rewind(0);
    return std::unexpected(s.error());
  }
  cached_.insert(cached_.end(), context.begin() + static_cast<long>(common), context.end());
  for (int32_t i = 0; i < max_tokens; ++i) {
    const std::span<const float> logits = session_.logits();
    // Greedy: the highest logit, the lowest id among equals (padding rows beyond the target's
    // vocabulary never count).
    const auto usable = std::min<size_t>(logits.size(), static_cast<size_t>(target_vocab_));
    const auto best = static_cast<int32_t>(
        std::max_element(logits.begin(), logits.begin() + usable) - logits.begin());
    drafted.push_back(best);
    if (i + 1 == max_tokens) break;
    const int32_t next[] = {best};
    if (auto s = session_.decode(next); !s) return std::unexpected(s.error());
    cached_.push_back(best);
  }
  return drafted;
}

}  // namespace hearth
