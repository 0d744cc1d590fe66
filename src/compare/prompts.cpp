// The prompt file of `hearth compare`: checked item by item so a typo names its place.
#include <set>

#include "compare/compare.h"

namespace hearth::compare {

using nlohmann::ordered_json;

namespace {

std::string shorten(const std::string& text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t cut = limit;
  // Never split a UTF-8 sequence: back up to the start of a character.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "…";
}

}  // namespace

Result<std::vector<Prompt>> parse_prompts(const std::string& text) {
  ordered_json doc = ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return invalid_input("the prompt file is not valid JSON");
  if (!doc.is_array()) {
    return invalid_input(
        "the prompt file must be a JSON array of prompts (strings or message lists)");
  }
  if (doc.empty()) return invalid_input("the prompt file holds no prompt");
  static const std::set<std::string> roles = {"system", "developer", "user", "assistant", "tool"};
  std::vector<Prompt> prompts;
  for (size_t i = 0; i < doc.size(); ++i) {
    const auto& item = doc[i];
    const std::string where = "prompt " + std::to_string(i + 1) + ": ";
    Prompt prompt;
    if (item.is_string()) {
      if (item.get<std::string>().empty()) return invalid_input(where + "empty text");
      prompt.messages = ordered_json::array({{{"role", "user"}, {"content", item}}});
      prompt.label = shorten(item.get<std::string>(), 120);
      prompts.push_back(std::move(prompt));
      continue;
    }
    if (!item.is_array()) {
      return invalid_input(where + "must be a string or a list of {\"role\",\"content\"} messages");
    }
    if (item.empty()) return invalid_input(where + "the message list is empty");
    for (size_t j = 0; j < item.size(); ++j) {
      const auto& m = item[j];
      const std::string at = where + "message " + std::to_string(j + 1) + ": ";
      if (!m.is_object()) return invalid_input(at + "must be an object {\"role\",\"content\"}");
      if (!m.contains("role") || !m["role"].is_string()) {
        return invalid_input(at + "needs a string \"role\"");
      }
      if (!roles.contains(m["role"].get<std::string>())) {
        return invalid_input(at + "unknown role \"" + m["role"].get<std::string>() +
                             "\" (system, developer, user, assistant or tool)");
      }
      if (!m.contains("content") || !m["content"].is_string()) {
        return invalid_input(at + "needs a string \"content\"");
      }
      prompt.messages.push_back({{"role", m["role"]}, {"content", m["content"]}});
      if (m["role"] == "user") prompt.label = shorten(m["content"].get<std::string>(), 120);
    }
    if (prompt.label.empty()) return invalid_input(where + "has no user message");
    prompts.push_back(std::move(prompt));
  }
  return prompts;
}

}  // namespace hearth::compare
