#include "engine/tokenizer/unicode.h"

#include <array>

namespace hearth::tokenizer_detail {

int utf8_sequence_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

std::optional<uint32_t> decode_utf8(std::string_view text, size_t& pos) {
  if (pos >= text.size()) return std::nullopt;
  const auto byte_at = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte_at(pos);
  if (lead < 0x80) {
    ++pos;
    return lead;
  }
  int length = 0;
  uint32_t codepoint = 0;
  uint32_t minimum = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, codepoint = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, codepoint = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, codepoint = lead & 0x07, minimum = 0x10000;
  } else {
    return std::nullopt;
  }
  if (pos + length > text.size()) return std::nullopt;
  for (int i = 1; i < length; ++i) {
    const uint8_t next = byte_at(pos + i);
    if ((next & 0xC0) != 0x80) return std::nullopt;
    codepoint = (codepoint << 6) | (next & 0x3F);
  }
  if (codepoint < minimum || codepoint > 0x10FFFF) return std::nullopt;
  if (codepoint >= 0xD800 && codepoint <= 0xDFFF) return std::nullopt;
  pos += length;
  return codepoint;
}

void append_utf8(std::string& out, uint32_t codepoint) {
  if (codepoint < 0x80) {
    out.push_back(static_cast<char>(codepoint));
  } else if (codepoint < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (codepoint >> 6)));
    out.push_back(static_cast<char>(0x80 | (codepoint & 0x3F)));
  } else if (codepoint < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (codepoint >> 12)));
    out.push_back(static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (codepoint & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (codepoint >> 18)));
    out.push_back(static_cast<char>(0x80 | ((codepoint >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((codepoint >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (codepoint & 0x3F)));
  }
}

std::string sanitize_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (decode_utf8(text, pos)) {
      out.append(text.substr(start, pos - start));
    } else {
      append_utf8(out, kReplacementCharacter);
      ++pos;
    }
  }
  return out;
}

namespace {

// Whether `lead` followed by `tail` (shorter than the sequence `lead` announces) can still
// become a well-formed character once more bytes arrive.
bool is_valid_prefix(uint8_t lead, std::string_view tail) {
  if (lead == 0xC0 || lead == 0xC1 || lead >= 0xF5) return false;  // overlong or too large
  for (size_t i = 0; i < tail.size(); ++i) {
    const uint8_t byte = static_cast<uint8_t>(tail[i]);
    if ((byte & 0xC0) != 0x80) return false;
    if (i > 0) continue;
    // The second byte carries the remaining range rules.
    if (lead == 0xE0 && byte < 0xA0) return false;  // overlong
    if (lead == 0xED && byte > 0x9F) return false;  // surrogate
    if (lead == 0xF0 && byte < 0x90) return false;  // overlong
    if (lead == 0xF4 && byte > 0x8F) return false;  // past U+10FFFF
  }
  return true;
}

}  // namespace

size_t incomplete_utf8_suffix(std::string_view bytes) {
  const size_t n = bytes.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t byte = static_cast<uint8_t>(bytes[n - back]);
    if ((byte & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    const int length = utf8_sequence_length(byte);
    if (length <= static_cast<int>(back)) return 0;  // complete, or not a lead at all
    return is_valid_prefix(byte, bytes.substr(n - back + 1)) ? back : 0;
  }
  return 0;
}

namespace {

struct ByteMapping {
  std::array<uint32_t, 256> to_unicode{};
  std::array<int16_t, 512> to_byte{};  // every image is below 512
};

const ByteMapping& byte_mapping() {
  static const ByteMapping mapping = [] {
    ByteMapping m;
    m.to_byte.fill(-1);
    uint32_t next_free = 256;
    for (int byte = 0; byte < 256; ++byte) {
      // Printable Latin-1 maps to itself; the rest is moved past 255 in byte order.
      const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) ||
                             (byte >= 0xAE && byte <= 0xFF);
      const uint32_t image = printable ? static_cast<uint32_t>(byte) : next_free++;
      m.to_unicode[byte] = image;
      m.to_byte[image] = static_cast<int16_t>(byte);
    }
    return m;
  }();
  return mapping;
}

}  // namespace

uint32_t byte_to_unicode(uint8_t byte) {
  return byte_mapping().to_unicode[byte];
}

int unicode_to_byte(uint32_t codepoint) {
  if (codepoint >= 512) return -1;
  return byte_mapping().to_byte[codepoint];
}

}  // namespace hearth::tokenizer_detail
