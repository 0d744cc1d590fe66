// Loading a mixture-of-experts model (qwen3moe): the per-expert views into the stacked 3-D
// tensors, their rewrite for the AVX-512 kernels, and clear errors for broken expert metadata
// or shapes. The model is the synthetic tiny-qwen3moe (models/synthetic.cpp) in Q8_0, whose
// output the golden test compares with llama.cpp.
//
// It lives in runtime/ because it drives the models through Model (the layers below runtime/
// may not include hearth/engine.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/kernels/interleave_layout.h"
#include "engine/models/model_weights.h"
#include "engine/models/synthetic.h"
#include "engine/models/token_reads.h"
#include "hearth/engine.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

using ::testing::HasSubstr;

std::filesystem::path temp_path(const std::string& suffix) {
  return std::filesystem::path(::testing::TempDir()) /
         (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + suffix);
}

std::filesystem::path write_tiny_moe() {
  const models::SyntheticShape* shape = models::find_synthetic_shape("tiny-qwen3moe");
  EXPECT_NE(shape, nullptr);
  auto vocab = gguf::File::open(testing::fixtures_dir() / shape->vocab_fixture);
  EXPECT_TRUE(vocab.has_value()) << (vocab ? "" : vocab.error().message);
  const auto path = temp_path(".gguf");
  auto st = models::write_synthetic_model(*shape, "q8_0", *vocab, path, 1);
  EXPECT_TRUE(st.has_value()) << (st ? "" : st.error().message);
  return path;
}

// The tiny MoE model with one metadata value replaced or dropped, or one tensor given new
// dims (and zeroed data of that size).
struct Edit {
  std::string key;
  std::optional<uint32_t> u32;  // absent: drop the key
  std::string tensor;
  std::vector<int64_t> dims;
};

std::string load_error_after(const Edit& edit) {
  const auto source_path = write_tiny_moe();
  auto source = gguf::File::open(source_path);
  EXPECT_TRUE(source.has_value());
  if (!source) return "no source";
  gguf::Writer writer;
  for (const auto& [key, value] : source->metadata()) {
    if (key == "general.alignment" || key == edit.key) continue;
    writer.set_value(key, value);
  }
  if (!edit.key.empty() && edit.u32) writer.set_u32(edit.key, *edit.u32);
  for (const auto& t : source->tensors()) {
    if (t.name != edit.tensor) {
      EXPECT_TRUE(writer.add_tensor(t.name, t.type, t.dims, std::span(t.data, t.n_bytes)));
      continue;
    }
    int64_t rows = 1;
    for (size_t i = 1; i < edit.dims.size(); ++i) rows *= edit.dims[i];
    std::vector<uint8_t> zeros(static_cast<size_t>(row_bytes(traits(t.type), edit.dims[0]) * rows));
    EXPECT_TRUE(writer.add_tensor(t.name, t.type, edit.dims, zeros));
  }
  const auto path = temp_path("-edited.gguf");
  EXPECT_TRUE(writer.write(path).has_value());
  std::filesystem::remove(source_path);
  auto model = Model::load(path, ModelOptions{.n_threads = 1});
  std::filesystem::remove(path);
  return model ? std::string("loaded fine") : model.error().message;
}

TEST(MoeLoad, ExpertsAreViewsIntoTheStackedTensor) {
  const auto path = write_tiny_moe();
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.has_value());
  auto w = models::load_model_weights(*file);
  ASSERT_TRUE(w.has_value()) << w.error().message;
  const models::HyperParams& hp = w->hp;
  EXPECT_EQ(hp.n_expert, 8);
  EXPECT_EQ(hp.n_expert_used, 2);
  EXPECT_EQ(hp.n_ff_exp, 64);
  const models::LayerWeights& layer = w->layers[1];
  EXPECT_EQ(layer.ffn_gate_inp.rows, 8);
  EXPECT_EQ(layer.ffn_gate_inp.type, TensorType::F32);  // the router stays F32
  ASSERT_EQ(layer.down_exps.size(), 8u);
  EXPECT_EQ(layer.w_down.data, nullptr);  // no dense FFN
  // Row r of expert e is row e * rows + r of the stacked tensor.
  const gguf::TensorInfo* down = file->find_tensor("blk.1.ffn_down_exps.weight");
  ASSERT_NE(down, nullptr);
  const WeightMatrix stacked{.type = down->type,
                             .data = down->data,
                             .rows = down->dims[1] * down->dims[2],
                             .cols = down->dims[0]};
  std::vector<float> want(static_cast<size_t>(stacked.cols)), got(want.size());
  for (int64_t e : {0, 5, 7}) {
    const WeightMatrix& m = layer.down_exps[static_cast<size_t>(e)];
    EXPECT_EQ(m.rows, hp.n_embd);
    EXPECT_EQ(m.cols, hp.n_ff_exp);
    for (int64_t r : {int64_t{0}, m.rows - 1}) {
      get_row(stacked, e * m.rows + r, want.data());
      get_row(m, r, got.data());
      EXPECT_EQ(want, got) << "expert " << e << " row " << r;
    }
  }
  std::filesystem::remove(path);
}

TEST(MoeLoad, RepackRewritesEveryExpert) {
  const auto path = write_tiny_moe();
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.has_value());
  auto loaded = models::load_model_weights(*file);
  ASSERT_TRUE(loaded.has_value());
  const models::ModelWeights before = *loaded;
  const KernelTable* interleaving = find_kernels("avx512");
  if (!interleaving) GTEST_SKIP() << "no table of this architecture reads the layout";
  EXPECT_GT(models::repack_weights(*loaded, *interleaving), 0);
  std::vector<float> want(static_cast<size_t>(before.hp.n_embd)), got(want.size());
  for (size_t e = 0; e < before.layers[0].up_exps.size(); ++e) {
    const WeightMatrix& old_m = before.layers[0].up_exps[e];
    const WeightMatrix& new_m = loaded->layers[0].up_exps[e];
    ASSERT_TRUE(can_interleave(old_m.type, old_m.rows, old_m.cols));
    EXPECT_EQ(new_m.layout, WeightLayout::kInterleaved) << "expert " << e;
    get_row(old_m, old_m.rows - 1, want.data());
    get_row(new_m, new_m.rows - 1, got.data());
    EXPECT_EQ(want, got) << "expert " << e;
  }
  std::filesystem::remove(path);
}

TEST(MoeLoad, MoreExpertsPerTokenThanExpertsIsAnError) {
  EXPECT_THAT(load_error_after({.key = "qwen3moe.expert_used_count", .u32 = 9}),
              HasSubstr("qwen3moe.expert_used_count = 9 exceeds qwen3moe.expert_count = 8"));
}

TEST(MoeLoad, MissingExpertCountIsNamed) {
  EXPECT_THAT(load_error_after({.key = "qwen3moe.expert_count"}),
              HasSubstr("qwen3moe.expert_count"));
}

TEST(MoeLoad, WrongExpertTensorShapeIsNamed) {
  EXPECT_THAT(load_error_after({.tensor = "blk.0.ffn_up_exps.weight", .dims = {128, 64, 7}}),
              HasSubstr("tensor 'blk.0.ffn_up_exps.weight' has shape [128, 64, 7], expected "
                        "[128, 64, 8]"));
}

// `hearth bench --bound` counts what one token reads: of the stacked experts only the two of
// eight that the router picks; everything else (attention, router, norms, embeddings) whole.
TEST(MoeTokenReads, CountsOnlyTheExpertsATokenRuns) {
  const auto path = write_tiny_moe();
  auto file = gguf::File::open(path);
  ASSERT_TRUE(file.has_value());
  uint64_t all_tensors = 0;
  for (const gguf::TensorInfo& t : file->tensors()) all_tensors += t.n_bytes;
  // Per layer three stacks of 8 experts, each expert 64 x 128 (or 128 x 64) Q8_0 values: 34
  // bytes per block of 32.
  for (const char* stack : {"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"}) {
    const gguf::TensorInfo* t = file->find_tensor(std::string("blk.0.") + stack + ".weight");
    ASSERT_NE(t, nullptr) << stack;
    ASSERT_EQ(t->type, TensorType::Q8_0) << stack;
  }
  const uint64_t expert_bytes = 64 * 128 / 32 * 34;
  const uint64_t stacked = 2 /*layers*/ * 3 /*stacks*/ * 8 * expert_bytes;
  const uint64_t used = 2 * 3 * 2 * expert_bytes;
  EXPECT_EQ(models::weight_bytes_per_token(file->tensors(), 8, 2), all_tensors - stacked + used);
  // Without expert counts every tensor is read whole (a dense model).
  EXPECT_EQ(models::weight_bytes_per_token(file->tensors(), 0, 0), all_tensors);
  std::filesystem::remove(path);
}

TEST(MoeTokenReads, DenseModelReadsEveryTensor) {
  auto file = gguf::File::open(testing::fixtures_dir() / "models" / "tiny-qwen3-f16.gguf");
  ASSERT_TRUE(file.has_value()) << file.error().message;
  uint64_t all_tensors = 0;
  for (const gguf::TensorInfo& t : file->tensors()) all_tensors += t.n_bytes;
  EXPECT_EQ(models::weight_bytes_per_token(file->tensors(), 0, 0), all_tensors);
  EXPECT_LT(all_tensors,
            std::filesystem::file_size(testing::fixtures_dir() / "models" / "tiny-qwen3-f16.gguf"));
}

}  // namespace
}  // namespace hearth
