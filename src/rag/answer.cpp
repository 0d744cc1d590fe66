#include "rag/answer.h"

#include <algorithm>
#include <cctype>

namespace hearth::rag {

std::string grounded_system_message() {
  return "Answer the question using only the numbered sources. Cite every claim with the number of "
         "its source in square brackets, like [1] or [2]. If the sources do not contain the "
         "answer, "
         "say that you do not know.";
}

std::string grounded_user_message(const std::string& question, const std::vector<Hit>& sources) {
  std::string out = "Sources:\n";
  for (size_t i = 0; i < sources.size(); ++i) {
    out += "[" + std::to_string(i + 1) + "] ";
    std::string where = sources[i].path;
    if (sources[i].page > 0) where += ", page " + std::to_string(sources[i].page);
    if (!sources[i].heading.empty()) where += ", " + sources[i].heading;
    out += "(" + where + ")\n" + sources[i].quote + "\n\n";
  }
  if (sources.empty()) out += "(none)\n\n";
  return out + "Question: " + question;
}

Result<GroundedPrompt> fit_grounded_prompt(const std::string& question,
                                           const std::vector<Hit>& hits, int max_prompt_tokens,
                                           const PromptCounter& count) {
  GroundedPrompt prompt;
  prompt.sources = hits;
  for (;;) {
    auto n = count(grounded_system_message(), grounded_user_message(question, prompt.sources));
    if (!n) return std::unexpected(n.error());
    if (*n <= max_prompt_tokens) {
      std::reverse(prompt.dropped.begin(), prompt.dropped.end());  // best first
      return prompt;
    }
    if (prompt.sources.empty())
      return invalid_input(
          "the question needs a prompt of " + std::to_string(*n) + " tokens, more than the " +
          std::to_string(max_prompt_tokens) +
          " the context leaves for it; shorten the question or use a larger context");
    prompt.dropped.push_back(std::move(prompt.sources.back()));
    prompt.sources.pop_back();
  }
}

Result<GroundedPrompt> build_grounded_prompt(const std::string& question,
                                             const std::vector<Hit>& hits, int max_prompt_tokens,
                                             const PromptRenderer& render) {
  // The last rendering is the one that fit: keep its tokens instead of rendering again.
  std::vector<int32_t> last;
  auto count = [&](const std::string& system, const std::string& user) -> Result<int> {
    auto tokens = render(system, user);
    if (!tokens) return std::unexpected(tokens.error());
    last = std::move(*tokens);
    return static_cast<int>(last.size());
  };
  auto prompt = fit_grounded_prompt(question, hits, max_prompt_tokens, count);
  if (prompt) prompt->tokens = std::move(last);
  return prompt;
}

CheckedAnswer check_citations(const std::string& answer, int n_sources) {
  CheckedAnswer out;
  size_t i = 0;
  while (i < answer.size()) {
    if (answer[i] != '[') {
      out.text += answer[i++];
      continue;
    }
    // A bracket of numbers separated by commas/spaces: "[3]", "[1, 2]".
    size_t j = i + 1;
    std::vector<int> numbers;
    bool valid = true;
    while (j < answer.size() && answer[j] != ']') {
      if (std::isdigit(static_cast<unsigned char>(answer[j]))) {
        int n = 0;
        while (j < answer.size() && std::isdigit(static_cast<unsigned char>(answer[j])) &&
               n < 100000)
          n = n * 10 + (answer[j++] - '0');
        numbers.push_back(n);
      } else if (answer[j] == ',' || answer[j] == ' ') {
        ++j;
      } else {
        valid = false;
        break;
      }
    }
    if (!valid || j >= answer.size() || numbers.empty()) {
      out.text += answer[i++];
      continue;
    }
    std::string kept;
    for (int n : numbers) {
      if (n >= 1 && n <= n_sources) {
        kept += (kept.empty() ? "" : ", ") + std::to_string(n);
        if (std::find(out.cited.begin(), out.cited.end(), n) == out.cited.end())
          out.cited.push_back(n);
      } else {
        ++out.removed;
      }
    }
    if (!kept.empty()) {
      out.text += "[" + kept + "]";
    } else if (!out.text.empty() && out.text.back() == ' ') {
      out.text.pop_back();  // "fact [9]." -> "fact."
    }
    i = j + 1;
  }
  return out;
}

}  // namespace hearth::rag
