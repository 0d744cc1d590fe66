// Model::load_from_memory: a model loaded from a buffer of its file's bytes must compute exactly
// what the same file loaded from disk computes, and must keep the buffer intact (repacking
// drops the source pages of a file mapping, never of a buffer the Model owns).
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"
#include "hearth/engine.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

std::vector<uint8_t> file_bytes(const std::filesystem::path& path) {
  const std::string contents = testing::read_file(path);
  return std::vector<uint8_t>(contents.begin(), contents.end());
}

std::vector<std::vector<float>> logits_of_every_token(const std::shared_ptr<const Model>& model,
                                                      const std::vector<int32_t>& ids) {
  Session session(model, {.n_ctx = 64});
  auto decoded = session.decode(ids, /*all_logits=*/true);
  EXPECT_TRUE(decoded) << decoded.error().message;
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < session.n_logits(); ++i) {
    rows.emplace_back(session.logits(i).begin(), session.logits(i).end());
  }
  return rows;
}

// A name under ModelSession* so that ctest repeats it at every kernel level.
class ModelSessionFromMemory : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelSessionFromMemory, GivesTheSameLogitsAsTheFile) {
  const auto path = testing::fixtures_dir() / "models" / (GetParam() + ".gguf");
  const std::vector<uint8_t> original = file_bytes(path);
  ASSERT_FALSE(original.empty()) << path;
  auto from_file = Model::load(path, {.n_threads = 2});
  ASSERT_TRUE(from_file) << from_file.error().message;
  auto from_memory = Model::load_from_memory(original, {.n_threads = 2});
  ASSERT_TRUE(from_memory) << from_memory.error().message;

  EXPECT_EQ((*from_memory)->info().arch, (*from_file)->info().arch);
  EXPECT_EQ((*from_memory)->info().n_vocab, (*from_file)->info().n_vocab);
  const std::vector<int32_t> ids =
      (*from_file)->tokenizer().encode("Once upon a time, there was a little dog", true, false);
  ASSERT_EQ(
      (*from_memory)->tokenizer().encode("Once upon a time, there was a little dog", true, false),
      ids);
  const auto expected = logits_of_every_token(*from_file, ids);
  const auto actual = logits_of_every_token(*from_memory, ids);
  ASSERT_EQ(actual.size(), ids.size());
  // The same bytes through the same kernels: bit for bit, not within a tolerance.
  EXPECT_EQ(actual, expected);

  // The buffer still holds the file's bytes, including the matrices that loading rewrote.
  const auto held = (*from_memory)->file().bytes();
  ASSERT_EQ(held.size(), original.size());
  EXPECT_EQ(std::memcmp(held.data(), original.data(), original.size()), 0);
}

INSTANTIATE_TEST_SUITE_P(Models, ModelSessionFromMemory,
                         ::testing::Values("stories260K", "tiny-qwen2-q8_0",
                                           "tiny-llama-spm-q4_k_m", "tiny-phi3-q4_k_m"));

TEST(ModelSessionFromMemoryErrors, BadBytesAreInvalidInputNamedAsMemory) {
  auto garbage = Model::load_from_memory(std::vector<uint8_t>(100, 7));
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(garbage.error().message.find("GGUF in memory"), std::string::npos)
      << garbage.error().message;
  auto negative = Model::load_from_memory({}, {.n_threads = -1});
  ASSERT_FALSE(negative);
  EXPECT_EQ(negative.error().kind, ErrorKind::kInvalidInput);
}

}  // namespace
}  // namespace hearth
