#include "engine/tokenizer/pretokenize.h"

// HEARTH_NO_PCRE2: a build without the regex library (WebAssembly, wasm/CMakeLists.txt). It
// knows the same pre-tokenizer names; the GPT-2, Llama-3 and Qwen2 expressions run on
// hand-written matchers (pretokenize_builtin.h), and compiling any other is an Error, so such a
// vocabulary fails to load with a clear message instead of tokenizing wrongly.
#if !defined(HEARTH_NO_PCRE2)
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#else
#include "engine/tokenizer/pretokenize_builtin.h"
#endif

#include <string>
#include <utility>

namespace hearth::tokenizer_detail {

namespace {

// The pre-tokenizer expressions of the reference, by family. Case-insensitive contractions are
// spelled out with classes so that every engine reads them the same way.
constexpr std::string_view kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

constexpr std::string_view kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
    R"(\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Same as Llama-3 but digits one at a time.
constexpr std::string_view kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|)"
    R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kDeepseekLlmLetters =
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293"
    "\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C"
    "\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5"
    "\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77"
    "\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59"
    "\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC"
    "\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107"
    "\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139"
    "\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE"
    "\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E"
    "\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F"
    "\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2"
    "\U000118A0-\U000118DF\U0001E900-\U0001E943]+";
constexpr std::string_view kDeepseekLlmPunctuation =
    "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";
constexpr std::string_view kCjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

constexpr std::string_view kGpt4o =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+)"
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+)"
    R"([\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}|)"
    R"( ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kTekken =
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|)"
    R"([^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|)"
    R"(\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr std::string_view kDeepseekV3Mixed =
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|)"
    R"( ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Anything up to whitespace or sentence punctuation (BLOOM-style vocabularies). The
// parentheses and "|" inside the class are literal members, as in the original expression.
constexpr std::string_view kWordsUntilPunctuation =
    " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+";

#if !defined(HEARTH_NO_PCRE2)
std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof(buffer));
  return reinterpret_cast<const char*>(buffer);
}
#endif

struct Family {
  std::vector<std::string_view> names;  // values of tokenizer.ggml.pre
  PreTokenizerSpec spec;
};

const std::vector<Family>& families() {
  static const std::vector<Family> all = {
      {{"default", ""}, {{R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", "[0-9][0-9][0-9]"}}},
      {{"llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral"},
       {{kLlama3}, /*ignore_merges=*/true, /*add_bos=*/true}},
      {{"dbrx", "smaug-bpe", "chatglm-bpe", "glm4"}, {{kLlama3}}},
      {{"qwen2", "deepseek-r1-qwen", "stablelm2", "hunyuan", "megrez"}, {{kQwen2}}},
      {{"deepseek-llm"},
       {{"[\r\n]", kDeepseekLlmLetters, kDeepseekLlmPunctuation, R"(\s+$)", kCjk, R"(\p{N}+)"}}},
      {{"deepseek-coder"}, {{"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjk, R"(\p{N})"}}},
      {{"deepseek-v3"},
       {{R"(\p{N}{1,3})", "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+", kDeepseekV3Mixed}}},
      {{"falcon"}, {{R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, "[0-9][0-9][0-9]"}}},
      {{"starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"},
       {{R"(\p{N})", kGpt2}}},
      {{"gpt-2", "phi-2", "mpt", "olmo", "jais", "jina-es", "jina-de", "jina-v1-en", "jina-v2-es",
        "jina-v2-de", "jina-v2-code"},
       {{kGpt2}}},
      {{"bloom", "poro-chat", "gpt3-finnish"}, {{kWordsUntilPunctuation}}},
      {{"viking"}, {{kWordsUntilPunctuation, R"(\p{N})"}}},
      {{"gpt-4o"}, {{kGpt4o}}},
      {{"tekken"}, {{kTekken}, /*ignore_merges=*/true, /*add_bos=*/true}},
  };
  return all;
}

}  // namespace

Result<PreTokenizerSpec> pre_tokenizer_spec(std::string_view name) {
  for (const Family& family : families()) {
    for (std::string_view candidate : family.names) {
      if (candidate == name) return family.spec;
    }
  }
  return fail("unsupported pre-tokenizer '" + std::string(name) + "'");
}

std::vector<std::string_view> supported_pre_tokenizers() {
  std::vector<std::string_view> names;
  for (const Family& family : families()) {
    for (std::string_view name : family.names) {
      if (!name.empty()) names.push_back(name);
    }
  }
  return names;
}

#if defined(HEARTH_NO_PCRE2)

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::compile(const PreTokenizerSpec& spec) {
  std::unique_ptr<PreTokenizer> result(new PreTokenizer());
  for (std::string_view pattern : spec.patterns) {
    if (pattern == kGpt2) {
      result->builtin_.push_back(kBuiltinGpt2);
    } else if (pattern == kLlama3) {
      result->builtin_.push_back(kBuiltinLlama3);
    } else if (pattern == kQwen2) {
      result->builtin_.push_back(kBuiltinQwen2);
    } else {
      return unsupported(
          "this build of hearth has no regex engine (WebAssembly builds without PCRE2): only "
          "the gpt-2, llama3 and qwen2 families of pre-tokenizers are supported");
    }
  }
  return result;
}

PreTokenizer::~PreTokenizer() = default;

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  for (int matcher : builtin_) {
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (std::string_view piece : pieces) builtin_split(matcher, piece, next);
    pieces = std::move(next);
  }
  return pieces;
}

#else

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::compile(const PreTokenizerSpec& spec) {
  std::unique_ptr<PreTokenizer> result(new PreTokenizer());
  for (std::string_view pattern : spec.patterns) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    // UCP: \s, \w and friends follow Unicode. DOLLAR_ENDONLY: `$` means the end of the piece,
    // not "before a final newline".
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &error_code,
                                     &error_offset, nullptr);
    if (code == nullptr) {
      return fail("pre-tokenizer pattern does not compile at offset " +
                  std::to_string(error_offset) + ": " + pcre2_message(error_code));
    }
    // JIT is an optimisation only; the interpreter gives the same matches.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    result->patterns_.push_back(code);
  }
  return result;
}

PreTokenizer::~PreTokenizer() {
  for (pcre2_code* code : patterns_) pcre2_code_free(code);
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (text.empty()) return pieces;
  pieces.push_back(text);
  for (pcre2_code* code : patterns_) {
    pcre2_match_data* match = pcre2_match_data_create_from_pattern(code, nullptr);
    if (match == nullptr) break;
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (std::string_view piece : pieces) {
      const auto* subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t offset = 0;
      size_t gap_start = 0;
      while (offset < piece.size()) {
        int rc =
            pcre2_match(code, subject, piece.size(), offset, PCRE2_NO_UTF_CHECK, match, nullptr);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT) {
          // Very long runs can exhaust the JIT's stack; the interpreter uses the heap.
          rc = pcre2_match(code, subject, piece.size(), offset, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                           match, nullptr);
        }
        if (rc < 0) break;  // no further match (or a resource limit): the rest is one gap
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match);
        const size_t start = ovector[0];
        const size_t end = ovector[1];
        if (end == start) {
          // An empty match cuts nothing; step over one character and go on.
          offset = start + 1;
          while (offset < piece.size() && (static_cast<uint8_t>(piece[offset]) & 0xC0) == 0x80) {
            ++offset;
          }
          continue;
        }
        if (start > gap_start) next.push_back(piece.substr(gap_start, start - gap_start));
        next.push_back(piece.substr(start, end - start));
        gap_start = offset = end;
      }
      if (gap_start < piece.size()) next.push_back(piece.substr(gap_start));
    }
    pcre2_match_data_free(match);
    pieces = std::move(next);
  }
  return pieces;
}

#endif  // HEARTH_NO_PCRE2

}  // namespace hearth::tokenizer_detail
