// Grounded answers: the retrieved chunks go into a chat prompt within the model's context,
// numbered [1]..[n]; the model is asked to cite them; citations that name no supplied chunk
// are removed from the answer and counted.
// Pure functions over their arguments: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "hearth/status.h"
#include "rag/collection.h"

namespace hearth::rag {

struct GroundedPrompt {
  std::vector<int32_t> tokens;  // the rendered, tokenized chat prompt
  std::vector<Hit> sources;     // the chunks it holds, [1] first
  std::vector<Hit> dropped;     // lowest-ranked chunks that did not fit the budget
};

// Renders system + user messages (sources then the question) to prompt tokens.
using PromptRenderer =
    std::function<Result<std::vector<int32_t>>(const std::string& system, const std::string& user)>;

// The system message and the user message for `question` over `sources` (numbered from 1).
std::string grounded_system_message();
std::string grounded_user_message(const std::string& question, const std::vector<Hit>& sources);

// Prompt tokens of system + user messages, when only the count is needed (the server counts
// with the model that will answer, which renders the prompt itself).
using PromptCounter =
    std::function<Result<int>(const std::string& system, const std::string& user)>;

// As build_grounded_prompt, with a counter: `tokens` stays empty.
Result<GroundedPrompt> fit_grounded_prompt(const std::string& question,
                                           const std::vector<Hit>& hits, int max_prompt_tokens,
                                           const PromptCounter& count);

// The prompt with as many of `hits` (best first) as fit in `max_prompt_tokens`: the lowest
// ranked are dropped one by one; the question is never cut. kInvalidInput (naming the token
// counts) when the question alone does not fit.
Result<GroundedPrompt> build_grounded_prompt(const std::string& question,
                                             const std::vector<Hit>& hits, int max_prompt_tokens,
                                             const PromptRenderer& render);

struct CheckedAnswer {
  std::string text;        // the answer with unbacked citations removed
  std::vector<int> cited;  // distinct source numbers cited, in order of first use
  int removed = 0;         // citations [n] with n outside 1..n_sources
};
// Keeps [n] for 1 <= n <= n_sources (also inside "[1, 2]" / "[1][2]"), removes the others.
CheckedAnswer check_citations(const std::string& answer, int n_sources);

}  // namespace hearth::rag
