// libFuzzer target for the tokenizer: any bytes must encode without crashing, decode back to
// the input wherever the family is lossless, and stream as valid UTF-8 only.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/test_vocab.h"
#include "engine/tokenizer/tokenizer.h"
#include "engine/tokenizer/unicode.h"

namespace {

using hearth::Tokenizer;
namespace td = hearth::tokenizer_detail;

Tokenizer build(const hearth::gguf::Writer& writer) {
  const std::vector<uint8_t> bytes = writer.to_bytes();
  auto file = hearth::gguf::File::parse(bytes);
  if (!file) std::abort();
  auto tokenizer = Tokenizer::from_gguf(*file);
  if (!tokenizer) std::abort();
  return *tokenizer;
}

const std::vector<Tokenizer>& tokenizers() {
  static const std::vector<Tokenizer> all = [] {
    std::vector<Tokenizer> t;
    t.push_back(build(td::test_vocab::sentencepiece()));
    for (const char* pre : {"qwen2", "llama-bpe", "deepseek-llm", "deepseek-coder", "falcon",
                            "gpt-4o", "default", "starcoder"}) {
      t.push_back(build(td::test_vocab::byte_level_bpe({"h e", "l l"}, pre)));
    }
    t.push_back(build(td::test_vocab::wordpiece()));
    return t;
  }();
  return all;
}

bool is_valid_utf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (!td::decode_utf8(text, pos)) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t options = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto& all = tokenizers();
  const Tokenizer& tokenizer = all[options % all.size()];
  const bool add_special = (options & 0x40) != 0;
  const bool parse_special = (options & 0x80) != 0;

  const std::vector<int32_t> ids = tokenizer.encode(text, add_special, parse_special);
  for (int32_t id : ids) {
    if (id < 0 || id >= tokenizer.n_vocab()) std::abort();
  }
  // Special tokens render as their text, so parsed markup comes back; BOS/EOS would be extra.
  const std::string decoded = tokenizer.decode(ids, true);
  const bool lossless = !add_special;
  if (lossless) switch (tokenizer.type()) {
      case hearth::VocabType::kSentencePiece:
        // Byte fallback keeps every byte; only a literal U+2581 comes back as a space.
        if (text.find("\xE2\x96\x81") == std::string_view::npos && decoded != text) std::abort();
        break;
      case hearth::VocabType::kBytePairEncoding:
        if (decoded != td::sanitize_utf8(text)) std::abort();
        break;
      case hearth::VocabType::kWordPiece: break;  // lossy by design (case, accents, whitespace)
    }

  hearth::StreamingDecoder stream(tokenizer, true);
  std::string streamed;
  for (int32_t id : ids) {
    const std::string out = stream.push(id);
    if (!is_valid_utf8(out)) std::abort();
    streamed += out;
  }
  const std::string rest = stream.finish();
  if (!is_valid_utf8(rest)) std::abort();
  return 0;
}
