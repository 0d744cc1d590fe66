#include "router/detect.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace hearth::router {
namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_alnum(char c) {
  return is_digit(c) || is_alpha(c);
}
char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

bool email_at(std::string_view t) {
  for (size_t at = t.find('@'); at != std::string_view::npos; at = t.find('@', at + 1)) {
    size_t l = at;
    while (l > 0 && (is_alnum(t[l - 1]) ||
                     std::string_view("._%+-").find(t[l - 1]) != std::string_view::npos))
      --l;
    if (l == at) continue;
    size_t r = at + 1;
    size_t last_dot = std::string_view::npos;
    while (r < t.size() && (is_alnum(t[r]) || t[r] == '.' || t[r] == '-')) {
      if (t[r] == '.') last_dot = r;
      ++r;
    }
    while (r > at + 1 && t[r - 1] == '.') --r;  // a sentence's full stop
    if (last_dot == std::string_view::npos || last_dot <= at + 1) continue;
    size_t tld = 0;
    for (size_t i = last_dot + 1; i < r && is_alpha(t[i]); ++i) ++tld;
    if (tld >= 2) return true;
  }
  return false;
}

// Runs of digits with the separators a detector allows between them; calls `check` with the
// digits of each run and whether it started with '+'.
template <class F>
bool digit_runs(std::string_view t, std::string_view separators, F check) {
  size_t i = 0;
  while (i < t.size()) {
    if (!is_digit(t[i]) || (i > 0 && is_alnum(t[i - 1]))) {
      ++i;
      continue;
    }
    const bool plus = i > 0 && (t[i - 1] == '+' || t[i - 1] == '(');
    std::string digits;
    size_t j = i;
    while (j < t.size()) {
      if (is_digit(t[j])) {
        digits += t[j++];
      } else if (separators.find(t[j]) != std::string_view::npos && j + 1 < t.size() &&
                 (is_digit(t[j + 1]) || separators.find(t[j + 1]) != std::string_view::npos)) {
        ++j;
      } else {
        break;
      }
    }
    const bool boundary = j >= t.size() || !is_alpha(t[j]);
    if (boundary && check(digits, plus)) return true;
    i = j + 1;
  }
  return false;
}

bool ipv4_at(std::string_view t) {
  for (size_t i = 0; i < t.size(); ++i) {
    if (!is_digit(t[i]) || (i > 0 && (is_alnum(t[i - 1]) || t[i - 1] == '.'))) continue;
    size_t j = i;
    int octets = 0;
    bool ok = true;
    while (octets < 4) {
      size_t start = j;
      int value = 0;
      while (j < t.size() && is_digit(t[j]) && j - start < 3) value = value * 10 + (t[j++] - '0');
      if (j == start || value > 255 || (j < t.size() && is_digit(t[j]))) {
        ok = false;
        break;
      }
      ++octets;
      if (octets < 4) {
        if (j >= t.size() || t[j] != '.') {
          ok = false;
          break;
        }
        ++j;
      }
    }
    if (ok && octets == 4 &&
        (j >= t.size() ||
         !(is_alnum(t[j]) || (t[j] == '.' && j + 1 < t.size() && is_digit(t[j + 1]))))) {
      return true;
    }
  }
  return false;
}

// The raw span [first, second) of the first valid IBAN in `t` (spaces between groups allowed),
// or {npos, npos}.
std::pair<size_t, size_t> iban_span(std::string_view t, size_t from = 0) {
  for (size_t i = from; i + 15 <= t.size(); ++i) {
    if (i > 0 && is_alnum(t[i - 1])) continue;
    if (!(std::isupper(static_cast<unsigned char>(t[i])) &&
          std::isupper(static_cast<unsigned char>(t[i + 1])) && is_digit(t[i + 2]) &&
          is_digit(t[i + 3]))) {
      continue;
    }
    std::string compact;
    std::vector<size_t> raw_end;  // raw_end[k]: the raw index after compact char k
    size_t j = i;
    while (j < t.size() && compact.size() < 34) {
      if (is_alnum(t[j])) {
        compact += t[j++];
        raw_end.push_back(j);
      } else if (t[j] == ' ' && j + 1 < t.size() && is_alnum(t[j + 1])) {
        ++j;
      } else {
        break;
      }
    }
    // A space-grouped IBAN may be followed by a word: try every prefix of a plausible length.
    for (size_t len = std::min<size_t>(compact.size(), 34); len >= 15; --len) {
      if (iban_valid(std::string_view(compact).substr(0, len))) return {i, raw_end[len - 1]};
    }
  }
  return {std::string_view::npos, std::string_view::npos};
}

bool iban_at(std::string_view t) {
  return iban_span(t).first != std::string_view::npos;
}

// `t` with every IBAN blanked out, so that its digit groups are not read as a phone number.
std::string without_ibans(std::string_view t) {
  std::string out(t);
  size_t from = 0;
  for (;;) {
    auto [first, last] = iban_span(out, from);
    if (first == std::string_view::npos) return out;
    for (size_t k = first; k < last; ++k) out[k] = '_';
    from = last;
  }
}

bool api_key_at(std::string_view t) {
  static const std::string_view kPrefixes[] = {"sk-",  "sk_live_",    "sk_test_", "ghp_",
                                               "gho_", "github_pat_", "xoxb-",    "xoxp-",
                                               "AKIA", "AIza",        "hf_",      "glpat-"};
  auto token_len = [&](size_t from) {
    size_t j = from;
    while (j < t.size() && (is_alnum(t[j]) || t[j] == '-' || t[j] == '_')) ++j;
    return j - from;
  };
  for (auto prefix : kPrefixes) {
    for (size_t p = t.find(prefix); p != std::string_view::npos; p = t.find(prefix, p + 1)) {
      if (p > 0 && is_alnum(t[p - 1])) continue;
      if (token_len(p + prefix.size()) >= 16) return true;
    }
  }
  for (size_t p = t.find("Bearer "); p != std::string_view::npos; p = t.find("Bearer ", p + 1)) {
    if (token_len(p + 7) >= 20) return true;
  }
  return false;
}

bool contains_word(std::string_view text, std::string_view word) {
  for (size_t p = text.find(word); p != std::string_view::npos; p = text.find(word, p + 1)) {
    const bool left = p == 0 || !is_alnum(text[p - 1]);
    const size_t end = p + word.size();
    const bool right = end >= text.size() || !is_alnum(text[end]) || !is_alnum(word.back());
    if (left && right) return true;
  }
  return false;
}

}  // namespace

const std::vector<std::string>& all_detector_names() {
  static const std::vector<std::string> names = {"email", "phone",   "credit_card",
                                                 "iban",  "api_key", "ip_address"};
  return names;
}

bool is_detector_name(std::string_view name) {
  for (const auto& n : all_detector_names()) {
    if (n == name) return true;
  }
  return false;
}

bool luhn_valid(std::string_view digits) {
  if (digits.size() < 2) return false;
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    if (!is_digit(digits[i])) return false;
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

bool iban_valid(std::string_view iban) {
  if (iban.size() < 15 || iban.size() > 34) return false;
  if (!is_alpha(iban[0]) || !is_alpha(iban[1]) || !is_digit(iban[2]) || !is_digit(iban[3])) {
    return false;
  }
  // Move the first four characters to the end, letters become 10..35, the number mod 97 is 1.
  uint32_t rem = 0;
  auto feed = [&](char c) {
    if (is_digit(c)) {
      rem = (rem * 10 + static_cast<uint32_t>(c - '0')) % 97;
    } else {
      const uint32_t v = static_cast<uint32_t>(lower(c) - 'a') + 10;
      rem = (rem * 100 + v) % 97;
    }
  };
  for (size_t i = 4; i < iban.size(); ++i) {
    if (!is_alnum(iban[i])) return false;
    feed(iban[i]);
  }
  for (size_t i = 0; i < 4; ++i) feed(iban[i]);
  return rem == 1;
}

std::vector<std::string> detect_private(std::string_view text,
                                        const std::vector<std::string>& enabled) {
  std::vector<std::string> found;
  for (const auto& name : enabled) {
    bool hit = false;
    if (name == "email") {
      hit = email_at(text);
    } else if (name == "phone") {
      // 10 to 15 digits: national numbers with an area code up to E.164's maximum. Dots are
      // not separators here so that version numbers and IP addresses are not phones.
      hit = digit_runs(without_ibans(text), " -()",
                       [](const std::string& d, bool) { return d.size() >= 10 && d.size() <= 15; });
    } else if (name == "credit_card") {
      hit = digit_runs(text, " -", [](const std::string& d, bool) {
        return d.size() >= 13 && d.size() <= 19 && luhn_valid(d);
      });
    } else if (name == "iban") {
      hit = iban_at(text);
    } else if (name == "api_key") {
      hit = api_key_at(text);
    } else if (name == "ip_address") {
      hit = ipv4_at(text);
    }
    if (hit && std::find(found.begin(), found.end(), name) == found.end()) found.push_back(name);
  }
  return found;
}

std::string classify_task(const TaskInput& input) {
  std::string text(input.text);
  if (input.has_tools || text.find("```") != std::string::npos) return "code";
  std::string low = text;
  std::transform(low.begin(), low.end(), low.begin(), lower);
  static const std::string_view kCodeWords[] = {
      "def",        "class",    "function", "return",      "#include", "=>",     "::",
      "std::",      "select",   "compile",  "stack trace", "regex",    "python", "javascript",
      "typescript", "rust",     "c++",      "golang",      "java",     "bug",    "refactor",
      "variable",   "segfault", "npm",      "cargo",       "import",   "const",  "struct"};
  int hits = 0;
  for (auto w : kCodeWords) {
    if (contains_word(low, w)) ++hits;
  }
  if (hits >= 2) return "code";
  static const std::string_view kReasoningWords[] = {"prove",  "step by step", "why",
                                                     "derive", "calculate",    "solve"};
  for (auto w : kReasoningWords) {
    if (contains_word(low, w)) return "reasoning";
  }
  if (text.size() > 4000 && text.find('?') != std::string::npos) return "reasoning";
  return "chat";
}

}  // namespace hearth::router
