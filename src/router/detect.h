// Reading a prompt without a model: the privacy detectors and the task classifier the router
// uses to choose a chain. Pure functions over text, deterministic, unit-tested; documented in
// docs/router.md (the rules there are these rules).
//
// Thread-safe: no state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hearth::router {

// The detector names router.toml's privacy.detect accepts:
//   email        local@domain.tld
//   phone        a run of 10 to 15 digits with separators ( ) - or space between them
//   credit_card  13 to 19 digits (spaces or dashes between) passing the Luhn check
//   iban         two letters, two check digits, 11 to 30 alphanumerics passing mod 97
//   api_key      sk-/sk_live_/ghp_/xox[bp]-/AKIA prefixes, or "Bearer " and a 20+ char token
//   ip_address   a dotted IPv4 address with every octet <= 255
bool is_detector_name(std::string_view name);
const std::vector<std::string>& all_detector_names();

// The names of the detectors in `enabled` that match `text` (each at most once, in the order
// of `enabled`).
std::vector<std::string> detect_private(std::string_view text,
                                        const std::vector<std::string>& enabled);

bool luhn_valid(std::string_view digits);
bool iban_valid(std::string_view iban);  // without spaces, upper or lower case

// What a prompt asks for, when no X-Hearth-Task header says so:
//   "code"      a ``` fence, or `tools` present, or 2+ programming words/symbols
//               (def, class, function, return, #include, =>, ::, std::, SELECT ... FROM,
//               compile, stack trace, regex, python, javascript, rust, c++, bug, ...)
//   "reasoning" "prove", "step by step", "why", "derive", "calculate", "solve" or a prompt
//               over 4000 characters with a question mark
//   "chat"      everything else
struct TaskInput {
  std::string_view text;  // every message's content, joined
  bool has_tools = false;
};
std::string classify_task(const TaskInput& input);

}  // namespace hearth::router
