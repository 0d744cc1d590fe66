// What happens to one sequence between "here are its logits" and "here is text to show":
// sampling state, end-of-generation tokens, incremental detokenization, stop strings and the
// max_tokens limit. Shared by Generation (one sequence, CLI) and the server's scheduler (many
// sequences batched), so both finish generations by the same rules.
//
// One per generation; not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "engine/runtime/generator.h"
#include "engine/sampler/sampler.h"
#include "engine/sampler/stop_strings.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth {

class TokenStepper {
 public:
  // The prompt's tokens are shown to the sampler so that penalties see the conversation.
  // `tokenizer` must outlive the stepper.
  TokenStepper(const Tokenizer& tokenizer, const GenerateOptions& options,
               std::span<const int32_t> prompt);

  struct Step {
    std::string text;        // now safe to show (may be empty)
    bool generated = false;  // the token is part of the output (not end-of-generation)
    bool done = false;
    FinishReason finish = FinishReason::kStop;  // when done
  };
  // Takes the token chosen for the next position. It ends the generation when it is an
  // end-of-generation token (or negative: nothing could be sampled), completes a stop string,
  // or reaches max_tokens; the final step's text includes whatever was held back.
  Step accept(int32_t token);
  // Ends a generation that stops for another reason (context full, a constraint satisfied):
  // returns the text still held back. Later calls return nothing.
  std::string flush();

  Sampler& sampler() { return sampler_; }
  int32_t n_generated() const { return n_generated_; }

 private:
  const Tokenizer& tokenizer_;
  int32_t max_tokens_;
  bool ignore_eos_;
  Sampler sampler_;
  StreamingDecoder decoder_;
  StopStrings stops_;
  int32_t n_generated_ = 0;
  bool flushed_ = false;
};

}  // namespace hearth
