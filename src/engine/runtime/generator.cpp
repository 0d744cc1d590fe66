#include "engine/runtime/generator.h"

#include <algorithm>

#include "engine/runtime/token_stepper.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth {

std::string_view finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::kStop: return "stop";
    case FinishReason::kLength: return "length";
    case FinishReason::kCancelled: return "cancelled";
  }
  return "stop";
}

size_t reusable_prefix(std::span<const int32_t> cached, std::span<const int32_t> prompt) {
  size_t common = 0;
  const size_t limit = std::min(cached.size(), prompt.size());
  while (common < limit && cached[common] == prompt[common]) ++common;
  if (common > 0 && common == prompt.size()) --common;
  return common;
}

Result<int32_t> Generation::prefill(std::span<const int32_t> prompt) {
  if (prompt.empty()) return fail("the prompt is empty");
  if (static_cast<int32_t>(prompt.size()) > session_.n_ctx()) {
    return fail("the prompt has " + std::to_string(prompt.size()) +
                " tokens, more than the context size " + std::to_string(session_.n_ctx()));
  }
  session_.rewind(static_cast<int32_t>(reusable_prefix(cached_, prompt)));
  // Sliding-window caches may keep less than asked (Session::rewind).
  const auto common = static_cast<size_t>(session_.n_past());
  cached_.resize(common);
  if (auto st = session_.decode(prompt.subspan(common)); !st) {
    // The session is unchanged by a failed decode: the cache still holds `common` tokens.
    return std::unexpected(st.error());
  }
  cached_.insert(cached_.end(), prompt.begin() + static_cast<long>(common), prompt.end());
  return static_cast<int32_t>(common);
}

Result<GenerateResult> Generation::run(std::span<const int32_t> prompt,
                                       const GenerateOptions& options,
                                       const TextCallback& on_text) {
  if (auto st = options.sampling.validate(); !st) return std::unexpected(st.error());
  GenerateResult result;
  result.prompt_tokens = static_cast<int32_t>(prompt.size());
  auto reused = prefill(prompt);
  if (!reused) return std::unexpected(reused.error());
  result.cached_prompt_tokens = *reused;

  TokenStepper stepper(session_.model().tokenizer(), options, prompt);
  auto emit = [&](const std::string& piece) {
    if (piece.empty()) return true;
    result.text += piece;
    return on_text ? on_text(piece) : true;
  };

  result.finish = FinishReason::kLength;
  if (options.max_tokens == 0 || completion_room(result.prompt_tokens, session_.n_ctx()) == 0) {
    emit(stepper.flush());
    return result;
  }
  const SpeculativeParams& spec = options.speculative;
  if (spec.mode != SpeculateMode::kOff) {
    if (auto st = spec.validate(); !st) return std::unexpected(st.error());
  }
  LookupDrafter lookup(spec);
  Drafter* drafter = nullptr;
  if (spec.mode == SpeculateMode::kLookup) drafter = &lookup;
  if (spec.mode == SpeculateMode::kDraft) {
    if (!draft_model_) return fail("speculate: draft mode needs a draft model");
    drafter = draft_model_;
  }
  DraftLength draft_length(spec.draft_max);
  // The session's cache holds cached_ and, after a speculative decode, the drafts not yet
  // confirmed (drafts[confirmed..]); the next token is sampled from its logits row `row` (-1:
  // the last decode's only row).
  std::vector<int32_t> drafts;
  size_t confirmed = 0;
  int row = -1;
  auto drop_unconfirmed = [&] {
    if (confirmed < drafts.size()) session_.rewind(static_cast<int32_t>(cached_.size()));
    drafts.clear();
    confirmed = 0;
  };
  for (;;) {
    const int32_t id = stepper.sampler().sample(session_.logits(row));
    const TokenStepper::Step step = stepper.accept(id);
    if (step.generated) result.tokens.push_back(id);
    // A draft the target agrees with is already in the cache.
    const bool is_draft = confirmed < drafts.size() && drafts[confirmed] == id;
    if (is_draft) {
      cached_.push_back(id);
      ++confirmed;
      ++result.speculative.accepted;
      ++row;
    } else if (!drafts.empty()) {
      draft_length.update(static_cast<int32_t>(drafts.size()), static_cast<int32_t>(confirmed));
    }
    if (!emit(step.text)) {
      result.finish = FinishReason::kCancelled;
      break;
    }
    if (step.done) {
      result.finish = step.finish;
      break;
    }
    // The sequence holds cached_ and, unless it was a confirmed draft, `id`.
    const auto sequence = static_cast<int64_t>(cached_.size()) + (is_draft ? 0 : 1);
    if (context_is_full(sequence, session_.n_ctx())) {
      emit(stepper.flush());
      break;
    }
    if (is_draft) continue;  // the next row verifies the next draft (or gives the bonus token)
    drop_unconfirmed();
    cached_.push_back(id);
    // Drafts beyond what max_tokens or the context leave would be evaluated for nothing: the
    // drafts and the token after them must fit both.
    int64_t budget = drafter ? draft_length.next() : 0;
    budget = std::min<int64_t>(budget, session_.n_ctx() - sequence);
    if (options.max_tokens >= 0) {
      budget = std::min<int64_t>(budget, options.max_tokens - stepper.n_generated() - 1);
    }
    if (budget > 0) {
      auto guessed = drafter->draft(cached_, static_cast<int32_t>(budget));
      if (!guessed) {
        cached_.pop_back();
        return std::unexpected(guessed.error());
      }
      drafts = std::move(*guessed);
      if (static_cast<int64_t>(drafts.size()) > budget) drafts.resize(static_cast<size_t>(budget));
    }
    std::vector<int32_t> batch{id};
    batch.insert(batch.end(), drafts.begin(), drafts.end());
    if (auto st = session_.decode(batch, !drafts.empty()); !st) {
      cached_.pop_back();
      return std::unexpected(st.error());
    }
    result.speculative.drafted += static_cast<int32_t>(drafts.size());
    row = drafts.empty() ? -1 : 0;
  }
  drop_unconfirmed();
  return result;
}

}  // namespace hearth
