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
  for (;;) {
    const int32_t id = stepper.sampler().sample(session_.logits());
    const TokenStepper::Step step = stepper.accept(id);
    if (step.generated) result.tokens.push_back(id);
    if (!emit(step.text)) {
      result.finish = FinishReason::kCancelled;
      break;
    }
    if (step.done) {
      result.finish = step.finish;
      break;
    }
    // The sequence now holds the cached tokens and `id`.
    if (context_is_full(session_.n_past() + 1, session_.n_ctx())) {
      emit(stepper.flush());
      break;
    }
    const int32_t next[] = {id};
    if (auto st = session_.decode(next); !st) return std::unexpected(st.error());
    cached_.push_back(id);
  }
  return result;
}

}  // namespace hearth
