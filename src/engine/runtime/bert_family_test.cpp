// BERT-family embedding models against an independent reference.
//
// Each test writes a small random-weight BERT GGUF (the bge WordPiece vocabulary from the
// fixtures, 2 layers, 64 dims, 4 heads) with the project's GGUF writer and compares
// Session::embed with `reference_embedding` below: a deliberately naive forward in double
// with plain loops, written from the architecture's definition and sharing no code with the
// engine. Broken variants of the same file must load as an Error that names the culprit.
//
// It lives in runtime/ because it drives the models through Model and Session (the layers
// below runtime/ may not include hearth/engine.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/tensor/quant.h"
#include "engine/tokenizer/tokenizer.h"
#include "hearth/engine.h"
#include "support/fixtures.h"

namespace hearth {
namespace {

struct BertShape {
  int64_t n_embd = 64;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t n_ff = 128;
  int64_t n_ctx_train = 40;
  int64_t n_token_types = 2;
  int pooling = 1;  // GGUF pooling_type; -1 = key absent
  TensorType matrix_type = TensorType::F32;
  double eps = 1e-12;
  // nomic-bert: RoPE instead of learned positions, fused qkv, SwiGLU, no projection biases.
  bool nomic = false;
  float rope_base = 1000.0f;
};

// Everything a test may break in the file it writes.
struct Breakage {
  std::string drop_tensor;
  std::string reshape_tensor;  // written with its last dimension one larger
  std::map<std::string, uint32_t> set_u32;
  bool causal = false;
};

// Weights as written (before quantization), for the reference.
using Tensors = std::map<std::string, std::vector<float>>;

struct Written {
  std::filesystem::path path;
  Tensors tensors;
  int64_t n_vocab = 0;
  // Removes the file when the last copy goes (a loaded model keeps its mapping), so test runs
  // do not leave files behind in the temp directory.
  std::shared_ptr<void> remover;
};

Written write_bert(const BertShape& s, const Breakage& broken = {}, uint32_t seed = 7) {
  Written out;
  auto vocab = gguf::File::open(testing::fixtures_dir() / "tokenizer" / "ggml-vocab-bert-bge.gguf");
  EXPECT_TRUE(vocab.has_value()) << (vocab ? "" : vocab.error().message);
  if (!vocab) return out;
  gguf::Writer w;
  const std::string a = s.nomic ? "nomic-bert" : "bert";
  w.set_string("general.architecture", a);
  w.set_string("general.name", "tiny-" + a);
  for (const auto& [key, value] : vocab->metadata()) {
    if (key.starts_with("tokenizer.")) w.set_value(key, value);
  }
  out.n_vocab = static_cast<int64_t>(vocab->get_string_array("tokenizer.ggml.tokens")->size());
  w.set_u32(a + ".context_length", static_cast<uint32_t>(s.n_ctx_train));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head));
  w.set_f32(a + ".attention.layer_norm_epsilon", static_cast<float>(s.eps));
  w.set_bool(a + ".attention.causal", broken.causal);
  if (s.nomic) w.set_f32(a + ".rope.freq_base", s.rope_base);
  if (s.pooling >= 0) w.set_u32(a + ".pooling_type", static_cast<uint32_t>(s.pooling));
  for (const auto& [key, value] : broken.set_u32) w.set_u32(key, value);

  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  auto add = [&](const std::string& name, std::vector<int64_t> dims, float center, float spread) {
    if (name == broken.drop_tensor) return;
    int64_t count = 1;
    for (int64_t dim : dims) count *= dim;
    std::vector<float> values(static_cast<size_t>(count));
    for (float& v : values) v = center + spread * uniform(rng);
    if (name == broken.reshape_tensor) {
      dims.back() += 1;
      values.resize(values.size() + static_cast<size_t>(count / (dims.back() - 1)));
    }
    const TensorType type = dims.size() == 2 ? s.matrix_type : TensorType::F32;
    const int64_t rows = dims.size() == 2 ? dims[1] : 1;
    const size_t row_size = row_bytes(traits(type), dims[0]);
    std::vector<uint8_t> bytes(row_size * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      quantize_row(type, values.data() + r * dims[0], bytes.data() + r * row_size, dims[0]);
    }
    EXPECT_TRUE(w.add_tensor(name, type, dims, bytes).has_value()) << name;
    out.tensors[name] = std::move(values);
  };
  const int64_t d = s.n_embd;
  // Matrices scaled by 1/sqrt(cols) keep the activations in a realistic range.
  const float inv_d = 1.0f / std::sqrt(static_cast<float>(d));
  const float inv_ff = 1.0f / std::sqrt(static_cast<float>(s.n_ff));
  add("token_embd.weight", {d, out.n_vocab}, 0.0f, 1.0f);
  if (!s.nomic) add("position_embd.weight", {d, s.n_ctx_train}, 0.0f, 0.5f);
  add("token_types.weight", {d, s.n_token_types}, 0.0f, 0.5f);
  add("token_embd_norm.weight", {d}, 1.0f, 0.2f);
  add("token_embd_norm.bias", {d}, 0.0f, 0.2f);
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    if (s.nomic) {
      add(p + "attn_qkv.weight", {d, 3 * d}, 0.0f, 2.0f * inv_d);
      add(p + "attn_output.weight", {d, d}, 0.0f, 2.0f * inv_d);
    } else {
      for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
        add(p + m + ".weight", {d, d}, 0.0f, 2.0f * inv_d);
        add(p + m + ".bias", {d}, 0.0f, 0.2f);
      }
    }
    add(p + "attn_output_norm.weight", {d}, 1.0f, 0.2f);
    add(p + "attn_output_norm.bias", {d}, 0.0f, 0.2f);
    if (s.nomic) add(p + "ffn_gate.weight", {d, s.n_ff}, 0.0f, 2.0f * inv_d);
    add(p + "ffn_up.weight", {d, s.n_ff}, 0.0f, 2.0f * inv_d);
    if (!s.nomic) add(p + "ffn_up.bias", {s.n_ff}, 0.0f, 0.2f);
    add(p + "ffn_down.weight", {s.n_ff, d}, 0.0f, 2.0f * inv_ff);
    if (!s.nomic) add(p + "ffn_down.bias", {d}, 0.0f, 0.2f);
    add(p + "layer_output_norm.weight", {d}, 1.0f, 0.2f);
    add(p + "layer_output_norm.bias", {d}, 0.0f, 0.2f);
  }
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  // The pid keeps ctest's entries that run the same test at once (one per kernel level) apart.
  std::string stem = std::string("bert-") + info->test_suite_name() + "-" + info->name() + "-" +
                     std::to_string(seed) + "-" + std::to_string(::getpid()) + ".gguf";
  std::replace(stem.begin(), stem.end(), '/', '_');  // parameterized test names
  out.path = std::filesystem::path(::testing::TempDir()) / stem;
  EXPECT_TRUE(w.write(out.path).has_value());
  out.remover = std::shared_ptr<void>(nullptr, [path = out.path](void*) {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  });
  return out;
}

// ---- The reference: plain loops in double, straight from the definition ----------------

using Matrix = std::vector<std::vector<double>>;  // [token][feature]

// y[t][r] = sum_c W[r][c] x[t][c] + b[r], W stored row-major with `cols` per row.
Matrix linear(const Matrix& x, const std::vector<float>& weight, const std::vector<float>& bias) {
  const size_t rows = bias.size();
  const size_t cols = x[0].size();
  Matrix y(x.size(), std::vector<double>(rows));
  for (size_t t = 0; t < x.size(); ++t) {
    for (size_t r = 0; r < rows; ++r) {
      double acc = bias[r];
      for (size_t c = 0; c < cols; ++c) acc += static_cast<double>(weight[r * cols + c]) * x[t][c];
      y[t][r] = acc;
    }
  }
  return y;
}

void layer_norm(Matrix& x, const std::vector<float>& weight, const std::vector<float>& bias,
                double eps) {
  for (auto& row : x) {
    double mean = 0;
    for (double v : row) mean += v;
    mean /= static_cast<double>(row.size());
    double var = 0;
    for (double v : row) var += (v - mean) * (v - mean);
    var /= static_cast<double>(row.size());
    for (size_t i = 0; i < row.size(); ++i) {
      row[i] = (row[i] - mean) / std::sqrt(var + eps) * weight[i] + bias[i];
    }
  }
}

// RoPE with NeoX halves: dims i and i + head_dim/2 of each head turn by t * base^(-2i/hd).
void rotate(Matrix& x, size_t n_head, double base) {
  const size_t hd = x[0].size() / n_head;
  for (size_t t = 0; t < x.size(); ++t) {
    for (size_t h = 0; h < n_head; ++h) {
      for (size_t i = 0; i < hd / 2; ++i) {
        const double theta = static_cast<double>(t) * std::pow(base, -2.0 * i / hd);
        double& a = x[t][h * hd + i];
        double& b = x[t][h * hd + i + hd / 2];
        const double a0 = a, b0 = b;
        a = a0 * std::cos(theta) - b0 * std::sin(theta);
        b = a0 * std::sin(theta) + b0 * std::cos(theta);
      }
    }
  }
}

std::vector<double> reference_embedding(const BertShape& s, const Tensors& w,
                                        const std::vector<int32_t>& tokens, int pooling) {
  const size_t d = static_cast<size_t>(s.n_embd);
  const size_t n = tokens.size();
  auto has = [&](const std::string& name) { return w.count(name) > 0; };
  const std::vector<float> no_bias_d(d, 0.0f), no_bias_ff(static_cast<size_t>(s.n_ff), 0.0f);
  Matrix x(n, std::vector<double>(d));
  for (size_t t = 0; t < n; ++t) {
    for (size_t i = 0; i < d; ++i) {
      x[t][i] = w.at("token_embd.weight")[tokens[t] * d + i];
      if (has("position_embd.weight")) x[t][i] += w.at("position_embd.weight")[t * d + i];
      if (has("token_types.weight")) x[t][i] += w.at("token_types.weight")[i];
    }
  }
  layer_norm(x, w.at("token_embd_norm.weight"), w.at("token_embd_norm.bias"), s.eps);
  const size_t n_head = static_cast<size_t>(s.n_head);
  const size_t hd = d / n_head;
  for (int64_t l = 0; l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    auto W = [&](const std::string& name) -> const std::vector<float>& { return w.at(p + name); };
    Matrix q, k, v;
    if (s.nomic) {
      const Matrix qkv = linear(x, W("attn_qkv.weight"), std::vector<float>(3 * d, 0.0f));
      for (const auto& row : qkv) {
        q.emplace_back(row.begin(), row.begin() + d);
        k.emplace_back(row.begin() + d, row.begin() + 2 * d);
        v.emplace_back(row.begin() + 2 * d, row.end());
      }
      rotate(q, n_head, s.rope_base);
      rotate(k, n_head, s.rope_base);
    } else {
      q = linear(x, W("attn_q.weight"), W("attn_q.bias"));
      k = linear(x, W("attn_k.weight"), W("attn_k.bias"));
      v = linear(x, W("attn_v.weight"), W("attn_v.bias"));
    }
    Matrix attn(n, std::vector<double>(d, 0.0));
    for (size_t h = 0; h < n_head; ++h) {
      for (size_t i = 0; i < n; ++i) {
        std::vector<double> p_ij(n);
        double max_s = -1e300;
        for (size_t j = 0; j < n; ++j) {
          double dot = 0;
          for (size_t c = 0; c < hd; ++c) dot += q[i][h * hd + c] * k[j][h * hd + c];
          p_ij[j] = dot / std::sqrt(static_cast<double>(hd));
          max_s = std::max(max_s, p_ij[j]);
        }
        double sum = 0;
        for (double& e : p_ij) sum += (e = std::exp(e - max_s));
        for (size_t j = 0; j < n; ++j) {
          for (size_t c = 0; c < hd; ++c) attn[i][h * hd + c] += p_ij[j] / sum * v[j][h * hd + c];
        }
      }
    }
    const Matrix o =
        linear(attn, W("attn_output.weight"), s.nomic ? no_bias_d : W("attn_output.bias"));
    for (size_t t = 0; t < n; ++t) {
      for (size_t i = 0; i < d; ++i) x[t][i] += o[t][i];
    }
    layer_norm(x, W("attn_output_norm.weight"), W("attn_output_norm.bias"), s.eps);
    Matrix up = linear(x, W("ffn_up.weight"), s.nomic ? no_bias_ff : W("ffn_up.bias"));
    if (s.nomic) {
      const Matrix gate = linear(x, W("ffn_gate.weight"), no_bias_ff);
      for (size_t t = 0; t < n; ++t) {
        for (size_t i = 0; i < up[t].size(); ++i) {
          up[t][i] *= gate[t][i] / (1.0 + std::exp(-gate[t][i]));
        }
      }
    } else {
      for (auto& row : up) {
        for (double& u : row) u = 0.5 * u * (1.0 + std::erf(u / std::sqrt(2.0)));
      }
    }
    const Matrix down = linear(up, W("ffn_down.weight"), s.nomic ? no_bias_d : W("ffn_down.bias"));
    for (size_t t = 0; t < n; ++t) {
      for (size_t i = 0; i < d; ++i) x[t][i] += down[t][i];
    }
    layer_norm(x, W("layer_output_norm.weight"), W("layer_output_norm.bias"), s.eps);
  }
  std::vector<double> pooled(d, 0.0);
  if (pooling == 2) {
    pooled = x.front();
  } else if (pooling == 3) {
    pooled = x.back();
  } else {
    for (const auto& row : x) {
      for (size_t i = 0; i < d; ++i) pooled[i] += row[i] / static_cast<double>(n);
    }
  }
  double norm = 0;
  for (double v : pooled) norm += v * v;
  for (double& v : pooled) v /= std::sqrt(norm);
  return pooled;
}

// ---- Helpers -----------------------------------------------------------------------------

std::shared_ptr<Model> load_ok(const std::filesystem::path& path) {
  auto model = Model::load(path, {.n_threads = 2});
  EXPECT_TRUE(model.has_value()) << (model ? "" : model.error().message);
  return model ? *model : nullptr;
}

std::string load_error(const std::filesystem::path& path) {
  auto model = Model::load(path, {.n_threads = 2});
  EXPECT_FALSE(model.has_value()) << "loaded a broken file";
  return model ? "" : model.error().message;
}

double max_abs_diff(std::span<const float> got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double worst = 0;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    worst = std::max(worst, std::abs(got[i] - want[i]));
  }
  return worst;
}

std::vector<int32_t> token_sequence(int64_t n, int64_t n_vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> id(0, static_cast<int32_t>(n_vocab - 1));
  std::vector<int32_t> tokens(static_cast<size_t>(n));
  for (auto& t : tokens) t = id(rng);
  return tokens;
}

// ---- Tests -------------------------------------------------------------------------------

TEST(ModelSessionBert, LoadsAsAnEmbeddingModel) {
  const BertShape shape;
  const Written file = write_bert(shape);
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  const ModelInfo& info = model->info();
  EXPECT_EQ(info.arch, "bert");
  EXPECT_TRUE(info.embedding_only);
  EXPECT_EQ(info.n_embd, 64);
  EXPECT_EQ(info.n_layer, 2);
  EXPECT_EQ(info.n_head, 4);
  EXPECT_EQ(info.n_ctx_train, 40);
  EXPECT_EQ(info.n_vocab, file.n_vocab);
}

class ModelSessionBertPooling : public ::testing::TestWithParam<int> {};

// Lengths 1 (a lone token attends to itself), odd, and the whole trained context; several
// inputs in a row on one session, longest first, so stale scratch from a longer input
// would show.
TEST_P(ModelSessionBertPooling, MatchesTheReferenceAtEveryLength) {
  BertShape shape;
  shape.pooling = GetParam();
  const Written file = write_bert(shape);
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  Session session(model);
  const int want_pooling = shape.pooling == 2 || shape.pooling == 3 ? shape.pooling : 1;
  for (int64_t n : {40, 1, 2, 7, 17, 33}) {
    const auto tokens = token_sequence(n, file.n_vocab, static_cast<uint32_t>(n));
    auto got = session.embed(tokens);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    const auto want = reference_embedding(shape, file.tensors, tokens, want_pooling);
    // F32 weights: only float rounding separates the two (about 1e-7); the tanh form of
    // GELU or a causal mask would be off by far more.
    EXPECT_LT(max_abs_diff(*got, want), 5e-6) << "n = " << n;
  }
}

// 1 mean, 2 CLS, 3 last; 0 (none) and a missing key fall back to the mean.
INSTANTIATE_TEST_SUITE_P(Pooling, ModelSessionBertPooling, ::testing::Values(1, 2, 3, 0, -1));

TEST(ModelSessionBert, PoolingsDiffer) {
  // Guards the parameterized test above: were pooling ignored, CLS and mean would agree.
  BertShape mean_shape, cls_shape;
  cls_shape.pooling = 2;
  const Written mean_file = write_bert(mean_shape);
  const Written cls_file = write_bert(cls_shape, {}, 8);
  auto mean_model = load_ok(mean_file.path);
  ASSERT_TRUE(mean_model);
  Session session(mean_model);
  const auto tokens = token_sequence(9, mean_file.n_vocab, 3);
  auto got = session.embed(tokens);
  ASSERT_TRUE(got.has_value());
  const auto cls = reference_embedding(mean_shape, mean_file.tensors, tokens, 2);
  EXPECT_GT(max_abs_diff(*got, cls), 1e-2);
}

TEST(ModelSessionBert, EveryTokenSeesEveryOther) {
  // Changing the last token changes the first token's state (CLS pooling): attention is
  // bidirectional, not causal.
  BertShape shape;
  shape.pooling = 2;
  const Written file = write_bert(shape);
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  Session session(model);
  auto tokens = token_sequence(6, file.n_vocab, 11);
  auto a = session.embed(tokens);
  tokens.back() = (tokens.back() + 1) % static_cast<int32_t>(file.n_vocab);
  auto b = session.embed(tokens);
  ASSERT_TRUE(a && b);
  double diff = 0;
  for (size_t i = 0; i < a->size(); ++i) diff = std::max(diff, double(std::abs((*a)[i] - (*b)[i])));
  EXPECT_GT(diff, 1e-3);
}

// From 160 tokens on, attention runs as matrix products instead of loops; both must match.
TEST(ModelSessionBert, LongInputsMatchTheReference) {
  for (bool nomic : {false, true}) {
    BertShape shape;
    shape.n_ctx_train = 200;
    shape.nomic = nomic;
    const Written file = write_bert(shape, {}, nomic ? 21 : 20);
    auto model = load_ok(file.path);
    ASSERT_TRUE(model);
    Session session(model);
    for (int64_t n : {159, 160, 200}) {
      const auto tokens = token_sequence(n, file.n_vocab, static_cast<uint32_t>(n));
      auto got = session.embed(tokens);
      ASSERT_TRUE(got.has_value()) << got.error().message;
      EXPECT_LT(max_abs_diff(*got, reference_embedding(shape, file.tensors, tokens, 1)), 5e-6)
          << (nomic ? "nomic-bert" : "bert") << ", n = " << n;
    }
  }
}

TEST(ModelSessionBert, Q8_0WeightsStayCloseToF32) {
  BertShape shape;
  shape.matrix_type = TensorType::Q8_0;
  const Written file = write_bert(shape);
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  Session session(model);
  for (int64_t n : {3, 25}) {
    const auto tokens = token_sequence(n, file.n_vocab, 100 + static_cast<uint32_t>(n));
    auto got = session.embed(tokens);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    // Against the unquantized weights: 8-bit weights and activations move a normalized
    // 64-dim vector by a few thousandths (measured: cosine 0.99995, max 0.0034).
    const auto want = reference_embedding(shape, file.tensors, tokens, 1);
    double dot = 0;
    for (size_t i = 0; i < want.size(); ++i) dot += (*got)[i] * want[i];
    EXPECT_GT(dot, 0.9995) << "n = " << n;
    EXPECT_LT(max_abs_diff(*got, want), 0.015) << "n = " << n;
  }
}

TEST(ModelSessionBert, ThreadCountDoesNotChangeTheResult) {
  const BertShape shape;
  const Written file = write_bert(shape);
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  const auto tokens = token_sequence(21, file.n_vocab, 5);
  Session one(model, {.n_threads = 1});
  Session three(model, {.n_threads = 3});
  auto a = one.embed(tokens);
  auto b = three.embed(tokens);
  ASSERT_TRUE(a && b);
  for (size_t i = 0; i < a->size(); ++i) EXPECT_NEAR((*a)[i], (*b)[i], 1e-6);
}

TEST(ModelSessionBert, TokenTypesMayBeAbsent) {
  const BertShape shape;
  const Written file = write_bert(shape, {.drop_tensor = "token_types.weight"});
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  Session session(model);
  const auto tokens = token_sequence(8, file.n_vocab, 4);
  auto got = session.embed(tokens);
  ASSERT_TRUE(got.has_value());
  EXPECT_LT(max_abs_diff(*got, reference_embedding(shape, file.tensors, tokens, 1)), 5e-6);
}

TEST(ModelSessionBert, NomicBertMatchesTheReference) {
  BertShape shape;
  shape.nomic = true;
  const Written file = write_bert(shape);
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  EXPECT_EQ(model->info().arch, "nomic-bert");
  EXPECT_TRUE(model->info().embedding_only);
  Session session(model);
  for (int64_t n : {1, 5, 18, 40}) {
    const auto tokens = token_sequence(n, file.n_vocab, 50 + static_cast<uint32_t>(n));
    auto got = session.embed(tokens);
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_LT(max_abs_diff(*got, reference_embedding(shape, file.tensors, tokens, 1)), 5e-6)
        << "n = " << n;
  }
  shape.matrix_type = TensorType::Q8_0;
  const Written quantized = write_bert(shape, {}, 9);
  auto q8 = load_ok(quantized.path);
  ASSERT_TRUE(q8);
  Session q8_session(q8);
  const auto tokens = token_sequence(12, quantized.n_vocab, 2);
  auto got = q8_session.embed(tokens);
  ASSERT_TRUE(got.has_value());
  EXPECT_LT(max_abs_diff(*got, reference_embedding(shape, quantized.tensors, tokens, 1)), 0.015);
}

TEST(ModelSessionBert, BrokenNomicBertIsALoadError) {
  BertShape shape;
  shape.nomic = true;
  EXPECT_THAT(load_error(write_bert(shape, {.drop_tensor = "blk.1.ffn_gate.weight"}).path),
              ::testing::HasSubstr("missing tensor 'blk.1.ffn_gate.weight'"));
  EXPECT_THAT(load_error(write_bert(shape, {.reshape_tensor = "blk.0.attn_qkv.weight"}, 8).path),
              ::testing::HasSubstr("tensor 'blk.0.attn_qkv.weight' has shape [64, 193]"));
}

TEST(ModelSessionBert, TokenizedTextGetsClsAndSep) {
  const BertShape shape;
  const Written file = write_bert(shape);
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  const auto ids = model->tokenizer().encode("Local models are nice.", true, true);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(model->tokenizer().token_to_piece(ids.front(), true), "[CLS]");
  EXPECT_EQ(model->tokenizer().token_to_piece(ids.back(), true), "[SEP]");
  Session session(model);
  auto got = session.embed(ids, /*normalize=*/true);
  ASSERT_TRUE(got.has_value());
  EXPECT_LT(max_abs_diff(*got, reference_embedding(shape, file.tensors, ids, 1)), 5e-6);
  auto raw = session.embed(ids, /*normalize=*/false);
  ASSERT_TRUE(raw.has_value());
  double norm = 0;
  for (float v : *raw) norm += double(v) * v;
  EXPECT_GT(std::abs(std::sqrt(norm) - 1.0), 1e-3) << "normalize=false must not normalize";
}

TEST(ModelSessionBert, GenerationIsAnError) {
  const Written file = write_bert({});
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  Session session(model);
  const std::vector<int32_t> tokens = {101, 2000, 102};
  auto st = session.decode(tokens);
  ASSERT_FALSE(st.has_value());
  EXPECT_THAT(st.error().message, ::testing::HasSubstr("embedding model"));
  const DecodeRequest request{.session = &session, .tokens = tokens};
  EXPECT_FALSE(Session::decode_batch(std::span(&request, 1)).has_value());
  EXPECT_TRUE(session.logits().empty());
  // Embedding still works afterwards.
  EXPECT_TRUE(session.embed(tokens).has_value());
}

TEST(ModelSessionBert, BadInputsAreErrors) {
  const Written file = write_bert({});
  auto model = load_ok(file.path);
  ASSERT_TRUE(model);
  Session session(model, {.n_ctx = 64});  // beyond the 40 learned positions
  EXPECT_FALSE(session.embed(std::vector<int32_t>{}).has_value());
  EXPECT_FALSE(session.embed(std::vector<int32_t>{101, -1}).has_value());
  EXPECT_FALSE(session.embed(std::vector<int32_t>{static_cast<int32_t>(file.n_vocab)}).has_value());
  auto too_long = session.embed(token_sequence(41, file.n_vocab, 1));
  ASSERT_FALSE(too_long.has_value());
  EXPECT_THAT(too_long.error().message, ::testing::HasSubstr("context of 40"));
  EXPECT_TRUE(session.embed(token_sequence(40, file.n_vocab, 1)).has_value());
}

struct BrokenCase {
  const char* label;
  Breakage breakage;
  const char* message;  // a part of the expected Error
};

class ModelSessionBertBroken : public ::testing::TestWithParam<BrokenCase> {};

TEST_P(ModelSessionBertBroken, IsALoadError) {
  const Written file = write_bert({}, GetParam().breakage);
  EXPECT_THAT(load_error(file.path), ::testing::HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Files, ModelSessionBertBroken,
    ::testing::Values(
        BrokenCase{"missing_ffn_bias",
                   {.drop_tensor = "blk.1.ffn_down.bias"},
                   "missing tensor 'blk.1.ffn_down.bias'"},
        BrokenCase{"missing_positions",
                   {.drop_tensor = "position_embd.weight"},
                   "missing tensor 'position_embd.weight'"},
        BrokenCase{"missing_output_norm",
                   {.drop_tensor = "blk.0.layer_output_norm.weight"},
                   "blk.0.layer_output_norm.weight"},
        BrokenCase{"missing_embd_norm_bias",
                   {.drop_tensor = "token_embd_norm.bias"},
                   "token_embd_norm.bias"},
        BrokenCase{"wide_q",
                   {.reshape_tensor = "blk.0.attn_q.weight"},
                   "tensor 'blk.0.attn_q.weight' has shape [64, 65], expected [64, 64]"},
        BrokenCase{"long_bias",
                   {.reshape_tensor = "blk.1.attn_v.bias"},
                   "tensor 'blk.1.attn_v.bias' has shape [65]"},
        BrokenCase{"tall_ffn_up", {.reshape_tensor = "blk.1.ffn_up.weight"}, "blk.1.ffn_up.weight"},
        BrokenCase{"positions_vs_context",
                   {.reshape_tensor = "position_embd.weight"},
                   "position_embd.weight"},
        BrokenCase{"rank_pooling",
                   {.set_u32 = {{"bert.pooling_type", 4}}},
                   "bert.pooling_type = 4 is not supported"},
        BrokenCase{"causal", {.causal = true}, "bert.attention.causal"},
        BrokenCase{"heads_do_not_divide",
                   {.set_u32 = {{"bert.attention.head_count", 5}}},
                   "not a multiple"},
        BrokenCase{"more_layers_than_tensors",
                   {.set_u32 = {{"bert.block_count", 3}}},
                   "missing tensor 'blk.2.attn_q.weight'"}),
    [](const ::testing::TestParamInfo<BrokenCase>& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace hearth
