#include "engine/runtime/token_stepper.h"

namespace hearth {

TokenStepper::TokenStepper(const Tokenizer& tokenizer, const GenerateOptions& options,
                           std::span<const int32_t> prompt)
    : tokenizer_(tokenizer),
      max_tokens_(options.max_tokens),
      ignore_eos_(options.ignore_eos),
      sampler_(options.sampling),
      decoder_(tokenizer, options.render_special_tokens),
      stops_(options.stop) {
  for (int32_t id : prompt) sampler_.accept(id);
}

TokenStepper::Step TokenStepper::accept(int32_t token) {
  Step step;
  if (token < 0 || (!ignore_eos_ && tokenizer_.is_end_of_generation(token))) {
    step.text = flush();
    step.done = true;
    return step;
  }
  sampler_.accept(token);
  ++n_generated_;
  step.generated = true;
  step.text = stops_.push(decoder_.push(token));
  if (stops_.stopped()) {
    step.done = true;
    flushed_ = true;  // what followed the stop string is dropped, not held
    return step;
  }
  if (max_tokens_ >= 0 && n_generated_ >= max_tokens_) {
    step.text += flush();
    step.done = true;
    step.finish = FinishReason::kLength;
  }
  return step;
}

std::string TokenStepper::flush() {
  if (flushed_) return {};
  flushed_ = true;
  std::string tail = stops_.push(decoder_.finish());
  if (!stops_.stopped()) tail += stops_.finish();
  return tail;
}

}  // namespace hearth
