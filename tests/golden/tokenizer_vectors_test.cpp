// Golden tokenizer tests against ../shared/fixtures: the ggml vocabulary test vectors and the
// `tokenize` entries of the reference JSON files, id for id.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

namespace fs = std::filesystem;

struct VectorCase {
  std::string vectors;  // NAME of NAME.inp / NAME.out, relative to fixtures/tokenizer
  std::string vocab;    // GGUF holding the vocabulary, relative to fixtures
  bool lossless;        // decode(encode(text)) == text for every text
};

const std::vector<VectorCase>& vector_cases() {
  static const std::vector<VectorCase> cases = {
      {"ggml-vocab-llama-spm.gguf", "tokenizer/ggml-vocab-llama-spm.gguf", true},
      {"ggml-vocab-phi-3.gguf", "tokenizer/ggml-vocab-phi-3.gguf", true},
      {"ggml-vocab-gpt-2.gguf", "tokenizer/ggml-vocab-gpt-2.gguf", true},
      {"ggml-vocab-falcon.gguf", "tokenizer/ggml-vocab-falcon.gguf", true},
      {"ggml-vocab-mpt.gguf", "tokenizer/ggml-vocab-mpt.gguf", true},
      {"ggml-vocab-starcoder.gguf", "tokenizer/ggml-vocab-starcoder.gguf", true},
      {"ggml-vocab-refact.gguf", "tokenizer/ggml-vocab-refact.gguf", true},
      {"ggml-vocab-deepseek-llm.gguf", "tokenizer/ggml-vocab-deepseek-llm.gguf", true},
      {"ggml-vocab-deepseek-coder.gguf", "tokenizer/ggml-vocab-deepseek-coder.gguf", true},
      {"ggml-vocab-bert-bge.gguf", "tokenizer/ggml-vocab-bert-bge.gguf", false},
      {"vocab-qwen2", "models/tiny-qwen2-q8_0.gguf", true},
      {"vocab-deepseek-r1-qwen", "models/tiny-qwen2-q8_0.gguf", true},
      {"vocab-llama-bpe", "models/tiny-llama3-q8_0.gguf", true},
  };
  return cases;
}

// Texts are separated by the line "__ggml_vocab_test__"; every text, the last included, is
// followed by "\n__ggml_vocab_test__\n".
std::vector<std::string> read_texts(const fs::path& path) {
  const std::string content = testing::read_file(path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  size_t start = 0;
  while (true) {
    const size_t end = content.find(separator, start);
    if (end == std::string::npos) break;
    texts.push_back(content.substr(start, end - start));
    start = end + separator.size();
  }
  return texts;
}

std::vector<std::vector<int32_t>> read_ids(const fs::path& path) {
  std::vector<std::vector<int32_t>> lines;
  std::istringstream in(testing::read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream numbers(line);
    std::vector<int32_t> ids;
    int32_t id = 0;
    while (numbers >> id) ids.push_back(id);
    lines.push_back(std::move(ids));
  }
  return lines;
}

Result<Tokenizer> load(const fs::path& path) {
  auto file = gguf::File::open(path);
  if (!file) return std::unexpected(file.error());
  return Tokenizer::from_gguf(*file);
}

std::string describe(const std::vector<int32_t>& ids) {
  std::string out;
  for (int32_t id : ids) {
    out.push_back(' ');
    out.append(std::to_string(id));
  }
  return out;
}

bool is_valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<uint8_t>(text[i]);
    const size_t length = byte < 0x80           ? 1
                          : (byte >> 5) == 0x6  ? 2
                          : (byte >> 4) == 0xE  ? 3
                          : (byte >> 3) == 0x1E ? 4
                                                : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<uint8_t>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

class TokenizerVectors : public ::testing::TestWithParam<VectorCase> {};

TEST_P(TokenizerVectors, MatchesReferenceIds) {
  const VectorCase& c = GetParam();
  const fs::path dir = testing::fixtures_dir();
  auto tokenizer = load(dir / c.vocab);
  ASSERT_TRUE(tokenizer.has_value()) << tokenizer.error().message;
  const auto texts = read_texts(dir / "tokenizer" / (c.vectors + ".inp"));
  const auto expected = read_ids(dir / "tokenizer" / (c.vectors + ".out"));
  ASSERT_FALSE(texts.empty());
  ASSERT_EQ(texts.size(), expected.size());

  size_t passed = 0;
  size_t round_trips = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int32_t> ids = tokenizer->encode(texts[i], false, false);
    // Streaming gives the same bytes as the pieces, never an invalid character on the way
    // (emoji here arrive as byte tokens in SentencePiece vocabularies).
    StreamingDecoder stream(*tokenizer, true);
    std::string streamed;
    std::string pieces;
    for (int32_t id : ids) {
      const std::string out = stream.push(id);
      EXPECT_TRUE(is_valid_utf8(out)) << c.vectors << " text " << i << " token " << id;
      streamed += out;
      pieces += tokenizer->token_to_piece(id, true);
    }
    streamed += stream.finish();
    EXPECT_EQ(streamed, pieces) << c.vectors << " text " << i;
    if (ids == expected[i]) {
      ++passed;
    } else {
      ADD_FAILURE() << c.vectors << " text " << i << " '" << texts[i] << "'\n  expected"
                    << describe(expected[i]) << "\n  got     " << describe(ids);
    }
    if (c.lossless) {
      const std::string decoded = tokenizer->decode(ids, true);
      if (decoded == texts[i]) {
        ++round_trips;
      } else {
        ADD_FAILURE() << c.vectors << " text " << i << " does not round-trip: '" << decoded
                      << "' != '" << texts[i] << "'";
      }
    }
  }
  std::printf("[ vectors  ] %-32s %zu/%zu ids exact", c.vectors.c_str(), passed, texts.size());
  if (c.lossless) std::printf(", %zu/%zu round trips", round_trips, texts.size());
  std::printf("\n");
}

INSTANTIATE_TEST_SUITE_P(Tokenizer, TokenizerVectors, ::testing::ValuesIn(vector_cases()),
                         [](const ::testing::TestParamInfo<VectorCase>& info) {
                           std::string name;
                           for (char ch : info.param.vectors) {
                             name += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
                           }
                           return name;
                         });

TEST(TokenizerReference, TokenizeEntriesMatchEveryModel) {
  const fs::path dir = testing::fixtures_dir();
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir / "reference")) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".json" || name.starts_with("prompts") ||
        name.starts_with("tolerances")) {
      continue;
    }
    // MODEL.json, MODEL.exact.json and MODEL.nlc.json all name models/MODEL.gguf. The .nlc
    // files (a newer reference build) tokenize raw: no BOS, special tokens as plain text.
    std::string model = name.substr(0, name.size() - 5);
    if (model.ends_with(".exact")) model.resize(model.size() - 6);
    const bool raw = model.ends_with(".nlc");
    if (raw) model.resize(model.size() - 4);
    auto tokenizer = load(dir / "models" / (model + ".gguf"));
    ASSERT_TRUE(tokenizer.has_value()) << model << ": " << tokenizer.error().message;

    const auto json = nlohmann::json::parse(testing::read_file(entry.path()), nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << name;
    size_t passed = 0;
    const auto& cases = json.at("tokenize");
    for (const auto& item : cases) {
      const std::string text = item.at("text").get<std::string>();
      const std::vector<int32_t> want = item.at("ids").get<std::vector<int32_t>>();
      const std::vector<int32_t> got = tokenizer->encode(text, !raw, !raw);
      if (got == want) {
        ++passed;
      } else {
        ADD_FAILURE() << name << " '" << text << "'\n  expected" << describe(want) << "\n  got     "
                      << describe(got);
      }
    }
    std::printf("[ reference] %-34s %zu/%zu\n", name.c_str(), passed, cases.size());
    ++files;
  }
  EXPECT_GT(files, 0u);
}

}  // namespace
}  // namespace hearth
