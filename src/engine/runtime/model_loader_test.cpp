// Loading must reject a model it cannot run with an Error that names the culprit. The broken
// files are real fixture models rewritten with one change.
//
// It lives in runtime/ because it drives the models through Model and Session (the layers
// below runtime/ may not include hearth/engine.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/models/model_weights.h"
#include "hearth/engine.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

struct TensorEdit {
  std::string name;
  bool drop = false;
  std::optional<TensorType> type;  // with new zeroed data of the right size
  std::optional<std::vector<int64_t>> dims;
};

struct Edits {
  std::vector<TensorEdit> tensors;
  std::vector<std::string> drop_keys;
  std::vector<std::pair<std::string, std::string>> set_strings;
  std::vector<std::pair<std::string, uint32_t>> set_u32s;
  std::vector<std::pair<std::string, float>> set_f32s;
  std::vector<std::pair<std::string, std::vector<float>>> add_f32_vectors;  // new tensors
};

// Copies fixture model `name` with `edits` applied into a temporary file; returns its path.
std::filesystem::path rewrite(const std::string& name, const Edits& edits) {
  auto src = gguf::File::open(testing::fixtures_dir() / "models" / (name + ".gguf"));
  EXPECT_TRUE(src.has_value()) << (src ? "" : src.error().message);
  if (!src) return {};
  gguf::Writer writer;
  for (const auto& [key, value] : src->metadata()) {
    if (key == "general.alignment") continue;
    if (std::find(edits.drop_keys.begin(), edits.drop_keys.end(), key) != edits.drop_keys.end()) {
      continue;
    }
    writer.set_value(key, value);
  }
  for (const auto& [key, value] : edits.set_strings) writer.set_string(key, value);
  for (const auto& [key, value] : edits.set_u32s) writer.set_u32(key, value);
  for (const auto& [key, value] : edits.set_f32s) writer.set_f32(key, value);
  for (const auto& [tensor, values] : edits.add_f32_vectors) {
    const int64_t dims[] = {static_cast<int64_t>(values.size())};
    EXPECT_TRUE(writer.add_tensor(
        tensor, TensorType::F32, dims,
        std::span(reinterpret_cast<const uint8_t*>(values.data()), values.size() * sizeof(float))));
  }
  for (const auto& t : src->tensors()) {
    auto edit = std::find_if(edits.tensors.begin(), edits.tensors.end(),
                             [&](const TensorEdit& e) { return e.name == t.name; });
    if (edit == edits.tensors.end()) {
      EXPECT_TRUE(writer.add_tensor(t.name, t.type, t.dims, std::span(t.data, t.n_bytes)));
      continue;
    }
    if (edit->drop) continue;
    const TensorType type = edit->type.value_or(t.type);
    const std::vector<int64_t> dims = edit->dims.value_or(t.dims);
    int64_t rows = 1;
    for (size_t i = 1; i < dims.size(); ++i) rows *= dims[i];
    std::vector<uint8_t> data(static_cast<size_t>(row_bytes(traits(type), dims[0]) * rows));
    EXPECT_TRUE(writer.add_tensor(t.name, type, dims, data));
  }
  const auto path =
      std::filesystem::path(::testing::TempDir()) /
      (name + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".gguf");
  EXPECT_TRUE(writer.write(path).has_value());
  return path;
}

std::string load_error(const std::filesystem::path& path) {
  auto model = Model::load(path, ModelOptions{.n_threads = 1});
  std::filesystem::remove(path);
  return model ? std::string("loaded fine") : model.error().message;
}

using ::testing::HasSubstr;

TEST(ModelLoad, MissingTensorIsNamed) {
  const auto error = load_error(
      rewrite("stories260K", {.tensors = {{.name = "blk.1.ffn_up.weight", .drop = true}}}));
  EXPECT_THAT(error, HasSubstr("missing tensor 'blk.1.ffn_up.weight'"));
}

TEST(ModelLoad, WrongShapeIsNamedWithBothShapes) {
  const auto error = load_error(rewrite(
      "stories260K",
      {.tensors = {{.name = "blk.0.attn_k.weight", .dims = std::vector<int64_t>{64, 64}}}}));
  EXPECT_THAT(error, HasSubstr("'blk.0.attn_k.weight'"));
  EXPECT_THAT(error, HasSubstr("[64, 64]"));
  EXPECT_THAT(error, HasSubstr("[64, 32]"));
}

TEST(ModelLoad, WrongNormLengthIsAnError) {
  const auto error = load_error(
      rewrite("stories260K",
              {.tensors = {{.name = "output_norm.weight", .dims = std::vector<int64_t>{32}}}}));
  EXPECT_THAT(error, HasSubstr("'output_norm.weight'"));
}

TEST(ModelLoad, TypeThatCannotBeComputedIsNamed) {
  auto error = load_error(rewrite(
      "stories260K", {.tensors = {{.name = "blk.0.attn_q.weight", .type = TensorType::Q8_1}}}));
  EXPECT_THAT(error, HasSubstr("'blk.0.attn_q.weight'"));
  EXPECT_THAT(error, HasSubstr("Q8_1"));
  error = load_error(rewrite("tiny-llama-spm-q4_k_m", {.tensors = {{.name = "blk.1.ffn_down.weight",
                                                                    .type = TensorType::Q2_K}}}));
  EXPECT_THAT(error, HasSubstr("'blk.1.ffn_down.weight'"));
  EXPECT_THAT(error, HasSubstr("Q2_K"));
}

TEST(ModelLoad, MissingRequiredBiasIsNamed) {
  const auto error = load_error(
      rewrite("tiny-qwen2-q4_0", {.tensors = {{.name = "blk.1.attn_v.bias", .drop = true}}}));
  EXPECT_THAT(error, HasSubstr("missing tensor 'blk.1.attn_v.bias'"));
}

TEST(ModelLoad, Phi3WithoutOutputFallsBackToTiedEmbedding) {
  // phi3 files (Phi-4-mini) may tie the output to the embedding.
  auto path = rewrite("tiny-phi3-q4_k_m", {.tensors = {{.name = "output.weight", .drop = true}}});
  auto model = Model::load(path, ModelOptions{.n_threads = 1});
  std::filesystem::remove(path);
  ASSERT_TRUE(model.has_value()) << model.error().message;
  EXPECT_TRUE((*model)->info().tied_output);
}

TEST(ModelLoad, MissingHyperParameterIsNamed) {
  const auto error = load_error(rewrite("stories260K", {.drop_keys = {"llama.block_count"}}));
  EXPECT_THAT(error, HasSubstr("llama.block_count"));
}

TEST(ModelLoad, UnknownArchitectureIsNamed) {
  const auto error =
      load_error(rewrite("stories260K", {.set_strings = {{"general.architecture", "mamba"}}}));
  EXPECT_THAT(error, HasSubstr("'mamba'"));
}

TEST(ModelLoad, FixtureModelsLoadWithTheirShapes) {
  struct Expected {
    const char* name;
    const char* arch;
    int32_t n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff;
    bool tied;
  };
  const Expected cases[] = {
      {"stories260K", "llama", 512, 64, 5, 8, 4, 172, false},
      {"tiny-llama-spm-q4_0", "llama", 32000, 256, 2, 4, 2, 512, true},
      {"tiny-qwen2-q8_0", "qwen2", 151669, 64, 2, 4, 2, 128, true},
      {"tiny-phi3-q4_k_m", "phi3", 32064, 256, 2, 4, 2, 512, false},
  };
  for (const auto& c : cases) {
    auto model = Model::load(testing::fixtures_dir() / "models" / (std::string(c.name) + ".gguf"));
    ASSERT_TRUE(model.has_value()) << c.name << ": " << model.error().message;
    const ModelInfo& info = (*model)->info();
    EXPECT_EQ(info.arch, c.arch) << c.name;
    EXPECT_EQ(info.n_vocab, c.n_vocab) << c.name;
    EXPECT_EQ(info.n_embd, c.n_embd) << c.name;
    EXPECT_EQ(info.n_layer, c.n_layer) << c.name;
    EXPECT_EQ(info.n_head, c.n_head) << c.name;
    EXPECT_EQ(info.n_head_kv, c.n_head_kv) << c.name;
    EXPECT_EQ(info.n_ff, c.n_ff) << c.name;
    EXPECT_EQ(info.tied_output, c.tied) << c.name;
  }
}

std::vector<std::vector<float>> logits_of(const std::filesystem::path& path,
                                          std::span<const int32_t> ids, int n_ctx = 0) {
  auto model = Model::load(path, ModelOptions{.n_threads = 1});
  EXPECT_TRUE(model.has_value()) << model.error().message;
  if (!model) return {};
  Session session(*model, SessionOptions{.n_ctx = n_ctx});
  EXPECT_TRUE(session.decode(ids, true).has_value());
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < static_cast<int>(ids.size()); ++i) {
    rows.emplace_back(session.logits(i).begin(), session.logits(i).end());
  }
  return rows;
}

// Kernels may sum batched rows in different orders, so "equal" allows float rounding.
void expect_rows_near(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t v = 0; v < a.size(); ++v) {
    ASSERT_NEAR(a[v], b[v], 1e-5f * std::max(1.0f, std::abs(b[v]))) << what << " logit " << v;
  }
}

TEST(ModelLoad, SlidingWindowLimitsWhatAQuerySees) {
  // With a window of one position a token attends only to itself, and RoPE cancels in a
  // single-key softmax, so its logits no longer depend on position or context.
  const auto path =
      rewrite("tiny-phi3-q4_k_m", {.set_u32s = {{"phi3.attention.sliding_window", 1}}});
  const int32_t ids[] = {1, 450, 4996, 450, 17354, 4996};
  const auto windowed = logits_of(path, ids);
  std::filesystem::remove(path);
  ASSERT_EQ(windowed.size(), 6u);
  expect_rows_near(windowed[1], windowed[3], "same token at positions 1 and 3");
  expect_rows_near(windowed[2], windowed[5], "same token at positions 2 and 5");
  const auto full = logits_of(testing::fixtures_dir() / "models" / "tiny-phi3-q4_k_m.gguf", ids);
  EXPECT_NE(full[1], full[3]);
}

TEST(ModelLoad, LongRopeFactorsAreChosenByContextSize) {
  const int64_t n_freq = 32;  // rope.dimension_count 64 / 2
  const auto path = rewrite(
      "tiny-phi3-q4_k_m",
      {.set_u32s = {{"phi3.rope.scaling.original_context_length", 256}},
       .set_f32s = {{"phi3.rope.scaling.attn_factor", 1.0f}},
       .add_f32_vectors = {{"rope_factors_short.weight", std::vector<float>(n_freq, 1.0f)},
                           {"rope_factors_long.weight", std::vector<float>(n_freq, 4.0f)}}});
  const int32_t ids[] = {1, 450, 4996, 17354, 1701, 29916};
  const auto plain = logits_of(testing::fixtures_dir() / "models" / "tiny-phi3-q4_k_m.gguf", ids);
  // Up to the original context the short factors (all 1 here) apply: plain RoPE.
  const auto short_ctx = logits_of(path, ids, 256);
  // Beyond it, the long factors slow every rotation down four times.
  const auto long_ctx = logits_of(path, ids, 512);
  std::filesystem::remove(path);
  ASSERT_EQ(short_ctx.size(), plain.size());
  for (size_t i = 0; i < plain.size(); ++i) expect_rows_near(short_ctx[i], plain[i], "short");
  EXPECT_NE(long_ctx[3], plain[3]);
  expect_rows_near(long_ctx[0], plain[0], "position 0 is not rotated at all");
}

}  // namespace
}  // namespace hearth

namespace hearth {
namespace {

TEST(RepackWeights, InterleavesQuantizedMatricesWithoutChangingThem) {
  for (const char* name : {"tiny-qwen2-q8_0", "tiny-llama-spm-q4_0", "tiny-phi3-q4_k_m"}) {
    SCOPED_TRACE(name);
    auto file =
        gguf::File::open(testing::fixtures_dir() / "models" / (std::string(name) + ".gguf"));
    ASSERT_TRUE(file.has_value());
    auto loaded = models::load_model_weights(*file);
    ASSERT_TRUE(loaded.has_value());
    models::ModelWeights before = *loaded;
    const KernelTable* interleaving = find_kernels("avx512");
    if (!interleaving) GTEST_SKIP() << "no table of this architecture reads the layout";
    EXPECT_EQ(models::repack_weights(*loaded, kPortableKernels), 0);  // no kernels there
    const int64_t rewritten = models::repack_weights(*loaded, *interleaving);
    const models::ModelWeights& after = *loaded;
    if (before.tied_output) {
      EXPECT_EQ(after.output.data, after.token_embd.data);  // one copy
    }
    int64_t interleaved = 0;
    const std::pair<const WeightMatrix*, const WeightMatrix*> pairs[] = {
        {&before.token_embd, &after.token_embd},
        {&before.layers[0].wq, &after.layers[0].wq},
        {&before.layers[0].wk, &after.layers[0].wk},
        {&before.layers[0].wqkv, &after.layers[0].wqkv},
        {&before.layers[1].w_down, &after.layers[1].w_down}};
    for (const auto& [old_m, new_m] : pairs) {
      if (!old_m->data) continue;  // e.g. phi3's q/k/v, fused into one matrix
      const bool expected = can_interleave(old_m->type, old_m->rows, old_m->cols);
      EXPECT_EQ(new_m->layout, expected ? WeightLayout::kInterleaved : WeightLayout::kGguf);
      interleaved += expected;
      std::vector<float> want(static_cast<size_t>(old_m->cols));
      std::vector<float> got(want.size());
      for (int64_t r : {int64_t{0}, old_m->rows / 2, old_m->rows - 1}) {
        get_row(*old_m, r, want.data());
        get_row(*new_m, r, got.data());
        EXPECT_EQ(want, got) << "row " << r;
      }
    }
    EXPECT_EQ(rewritten > 0, interleaved > 0);
  }
}

}  // namespace
}  // namespace hearth
