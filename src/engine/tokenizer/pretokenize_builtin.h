// Built-in matchers for the most common pre-tokenizer expressions (GPT-2, Llama-3, Qwen2), for
// builds without PCRE2 (HEARTH_NO_PCRE2, the WebAssembly build). pretokenize.cpp picks one when
// a pattern is exactly one of those expressions. Stateless: safe on any thread.
#pragma once

#include <string_view>
#include <vector>

namespace hearth::tokenizer_detail {

enum BuiltinMatcher { kBuiltinGpt2 = 0, kBuiltinLlama3 = 1, kBuiltinQwen2 = 2 };

// Appends the pieces `piece` splits into: its matches, one after another. These expressions
// match at every position, so there are no gaps between matches.
void builtin_split(int matcher, std::string_view piece, std::vector<std::string_view>& out);

}  // namespace hearth::tokenizer_detail
