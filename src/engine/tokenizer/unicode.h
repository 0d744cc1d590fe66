// UTF-8 and byte-level helpers shared by the tokenizer's parts. Internal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace hearth::tokenizer_detail {

inline constexpr uint32_t kReplacementCharacter = 0xFFFD;

// Length a UTF-8 sequence announces by its first byte; 1 for bytes that cannot start one, so
// that callers walking text always advance.
int utf8_sequence_length(uint8_t lead);

// Decodes one well-formed character at `pos` (rejecting overlong forms, surrogates and
// values past U+10FFFF) and advances `pos` past it; nullopt leaves `pos` unchanged.
std::optional<uint32_t> decode_utf8(std::string_view text, size_t& pos);

void append_utf8(std::string& out, uint32_t codepoint);

// Replaces every byte that is not part of a well-formed character by U+FFFD.
std::string sanitize_utf8(std::string_view text);

// How many bytes at the end of `bytes` are the start of a character that later bytes could
// still complete (0..3). Everything before them is complete or hopeless.
size_t incomplete_utf8_suffix(std::string_view bytes);

// GPT-2's reversible byte <-> printable character mapping used by byte-level BPE.
uint32_t byte_to_unicode(uint8_t byte);
// -1 when the character is not the image of a byte.
int unicode_to_byte(uint32_t codepoint);

}  // namespace hearth::tokenizer_detail
