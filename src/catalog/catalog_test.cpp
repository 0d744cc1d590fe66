#include "catalog/catalog.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "catalog/cache.h"
#include "support/fixtures.h"

namespace hearth::catalog {
namespace {

namespace fs = std::filesystem;

Catalog builtin() {
  auto c = Catalog::load(fs::path("/nonexistent-hearth-home"));
  EXPECT_TRUE(c.has_value()) << (c ? "" : c.error().message);
  return *c;
}

Machine big_machine() {
  return Machine{64ull << 30, 32ull << 30, true, true, true};
}

TEST(Catalog, BuiltinHasTheRequiredAliases) {
  const Catalog c = builtin();
  for (const char* alias :
       {"phi-4-mini",       "phi-3.5-mini",       "qwen2.5-0.5b",     "qwen2.5-1.5b",
        "qwen2.5-7b",       "qwen2.5-coder-1.5b", "deepseek-r1-1.5b", "deepseek-r1-7b",
        "llama-3.2-1b",     "llama-3.2-3b",       "smollm2-135m",     "smollm2-1.7b",
        "tinystories-260k", "qwen3-0.6b",         "qwen3-1.7b",       "qwen3-4b",
        "qwen3-8b",         "gemma3-270m",        "gemma3-1b",        "gemma3-4b",
        "mistral-7b",       "ministral-8b",       "smollm3-3b",       "qwen3-30b-a3b"}) {
    const Entry* e = c.find(alias);
    ASSERT_NE(e, nullptr) << alias;
    EXPECT_FALSE(e->variants.empty()) << alias;
    EXPECT_FALSE(e->license.empty()) << alias;
    EXPECT_GT(e->context_length, 0) << alias;
    EXPECT_FALSE(e->tasks.empty()) << alias;
  }
  EXPECT_TRUE(c.find("qwen2.5-coder-1.5b")->has_task("code"));
  EXPECT_TRUE(c.find("deepseek-r1-7b")->has_task("reasoning"));
  EXPECT_TRUE(c.find("qwen3-4b")->has_task("reasoning"));
  // Gemma ships under Google's Gemma Terms of Use, not an open-source licence.
  for (const char* gemma : {"gemma3-270m", "gemma3-1b", "gemma3-4b"})
    EXPECT_EQ(c.find(gemma)->license, "Gemma") << gemma;
  // Mistral 7B is Apache-2.0; Ministral 8B only has the Mistral AI Research License.
  EXPECT_EQ(c.find("mistral-7b")->license, "Apache-2.0");
  EXPECT_EQ(c.find("ministral-8b")->license, "Mistral-Research-License");
}

TEST(Catalog, TinyStoriesChecksumMatchesTheFixture) {
  const Catalog c = builtin();
  const Entry* e = c.find("tinystories-260k");
  ASSERT_NE(e, nullptr);
  const Variant& v = e->variants.front();
  EXPECT_EQ(v.repo, "ggml-org/models");
  EXPECT_EQ(v.file, "tinyllamas/stories260K.gguf");
  auto sha = sha256_file(testing::fixtures_dir() / "models" / "stories260K.gguf");
  ASSERT_TRUE(sha.has_value());
  EXPECT_EQ(*sha, v.sha256);
  EXPECT_EQ(v.size, fs::file_size(testing::fixtures_dir() / "models" / "stories260K.gguf"));
}

TEST(Catalog, RejectsMalformedDocumentsWithClearMessages) {
  auto bad = [](const char* text) {
    auto c = Catalog::parse(text, "test.json");
    EXPECT_FALSE(c.has_value()) << text;
    return c ? std::string() : c.error().message;
  };
  EXPECT_NE(bad("{").find("not valid JSON"), std::string::npos);
  EXPECT_NE(bad(R"({"models": 3})").find("\"models\" must be an array"), std::string::npos);
  EXPECT_NE(bad(R"({"models": [{"alias": "x", "variants": []}]})").find("variants"),
            std::string::npos);
  EXPECT_NE(
      bad(R"({"models": [{"alias": "x", "tasks": ["dance"], "variants": [{"quantization": "q8_0", "repo": "a/b", "file": "f.gguf"}]}]})")
          .find("unknown task"),
      std::string::npos);
  EXPECT_NE(
      bad(R"({"models": [{"alias": "x", "variants": [{"quantization": "q8_0", "repo": "a/../b", "file": "f.gguf"}]}]})")
          .find("owner/name"),
      std::string::npos);
  EXPECT_NE(
      bad(R"({"models": [{"alias": "x", "variants": [{"quantization": "q8_0", "repo": "a/b", "file": "../f.gguf"}]}]})")
          .find("relative path"),
      std::string::npos);
  EXPECT_NE(
      bad(R"({"models": [{"alias": "x", "variants": [{"quantization": "q8_0", "repo": "a/b", "file": "f.gguf", "sha256": "12"}]}]})")
          .find("64 hex"),
      std::string::npos);
}

TEST(Catalog, UserEntriesOverrideAndBrokenFilesAreSkipped) {
  const fs::path home =
      fs::temp_directory_path() / ("hearth-catalog-test-" + std::to_string(::getpid()));
  fs::create_directories(home / "catalog.d");
  std::ofstream(home / "catalog.d" / "a.json") << R"({"models": [
    {"alias": "my-model", "tasks": ["code"], "variants": [{"quantization": "q4_0", "repo": "me/mine", "file": "m.gguf"}]},
    {"alias": "qwen2.5-0.5b", "variants": [{"quantization": "q2_k", "repo": "me/qwen", "file": "q.gguf"}]}]})";
  std::ofstream(home / "catalog.d" / "b.json") << "{ broken";
  auto c = Catalog::load(home);
  ASSERT_TRUE(c.has_value());
  ASSERT_NE(c->find("my-model"), nullptr);
  EXPECT_EQ(c->find("qwen2.5-0.5b")->variants.front().repo, "me/qwen");
  ASSERT_EQ(c->warnings().size(), 1u);
  EXPECT_NE(c->warnings()[0].find("b.json"), std::string::npos);
  fs::remove_all(home);
}

TEST(Catalog, AliasPicksAVariantThatFitsTheMachine) {
  const Catalog c = builtin();
  auto roomy = resolve(c, "qwen2.5-7b", big_machine());
  ASSERT_TRUE(roomy.has_value());
  EXPECT_EQ(roomy->variant.quantization, "q4_k_m");  // the first preference fits
  Machine small{4ull << 30, 3ull << 30, true, false, true};
  auto tight = resolve(c, "qwen2.5-7b", small);
  ASSERT_TRUE(tight.has_value());
  EXPECT_EQ(tight->variant.quantization, "q4_k_m");  // smallest, with a note saying so
  EXPECT_NE(tight->choice_note.find("smallest"), std::string::npos);
  Machine no_f16c{64ull << 30, 32ull << 30, true, false, false};
  auto pinned = resolve(c, "qwen2.5-1.5b:q8_0", no_f16c);  // pinned wins even so
  ASSERT_TRUE(pinned.has_value());
  EXPECT_EQ(pinned->variant.quantization, "q8_0");
}

TEST(Catalog, PinnedQuantizationHubReferenceAndLocalPath) {
  const Catalog c = builtin();
  auto pinned = resolve(c, "qwen2.5-0.5b:Q8_0", big_machine());
  ASSERT_TRUE(pinned.has_value());
  EXPECT_EQ(pinned->variant.quantization, "q8_0");
  EXPECT_EQ(display_name(*pinned), "qwen2.5-0.5b:q8_0");
  auto missing_quant = resolve(c, "qwen2.5-0.5b:q3_k", big_machine());
  ASSERT_FALSE(missing_quant.has_value());
  EXPECT_NE(missing_quant.error().message.find("q4_k_m"), std::string::npos);

  auto hf = resolve(c, "hf://ggml-org/models/tinyllamas/stories260K.gguf", big_machine());
  ASSERT_TRUE(hf.has_value());
  EXPECT_EQ(hf->variant.repo, "ggml-org/models");
  EXPECT_EQ(hf->variant.file, "tinyllamas/stories260K.gguf");
  EXPECT_EQ(hf->variant.sha256.size(), 64u);  // known to the catalog
  EXPECT_FALSE(resolve(c, "hf://justowner", big_machine()).has_value());
  EXPECT_FALSE(resolve(c, "hf://a/b/../../etc/passwd.gguf", big_machine()).has_value());
  EXPECT_FALSE(resolve(c, "hf://a/b/file name?.gguf", big_machine()).has_value());
  EXPECT_FALSE(resolve(c, "hf://a/b/notes.txt", big_machine()).has_value());

  const auto path = (testing::fixtures_dir() / "models" / "stories260K.gguf").string();
  auto local = resolve(c, path, big_machine());
  ASSERT_TRUE(local.has_value());
  EXPECT_EQ(local->kind, ModelRef::Kind::kLocalFile);
  EXPECT_FALSE(resolve(c, "/no/such/model.gguf", big_machine()).has_value());
}

TEST(Catalog, TypoGetsDidYouMean) {
  const Catalog c = builtin();
  auto r = resolve(c, "phi-4-mni", big_machine());
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("did you mean phi-4-mini"), std::string::npos)
      << r.error().message;
  auto far = resolve(c, "completely-unrelated-name", big_machine());
  ASSERT_FALSE(far.has_value());
  EXPECT_EQ(far.error().message.find("did you mean"), std::string::npos);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("ABC", "abc"), 0u);
}

TEST(Catalog, MachineDetectionReadsProc) {
  const Machine m = Machine::detect();
  EXPECT_GT(m.memory_total, 0u);
  EXPECT_GT(m.memory_available, 0u);
  EXPECT_LE(m.memory_available, m.memory_total);
}

}  // namespace
}  // namespace hearth::catalog
