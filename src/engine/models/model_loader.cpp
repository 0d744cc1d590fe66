// Binds a GGUF file's tensors to `ModelWeights`, driven by the architecture table.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/models/model_weights.h"
#include "engine/models/str_cat.h"
#include "engine/tensor/quant.h"

// Returns the error of a failed Result from the enclosing function, else assigns its value.
#define HEARTH_TRY_ASSIGN(lhs, expr)                           \
  do {                                                         \
    auto hearth_v_ = (expr);                                   \
    if (!hearth_v_) return std::unexpected(hearth_v_.error()); \
    lhs = std::move(*hearth_v_);                               \
  } while (0)

namespace hearth::models {
namespace {

namespace tn = tensor_names;
namespace mk = metadata_keys;

std::string shape_string(std::span<const int64_t> dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += str_cat(i ? ", " : "", dims[i]);
  return s + "]";
}

// Reads "<arch>.<key>" metadata with the architecture prefix applied.
class MetadataReader {
 public:
  MetadataReader(const gguf::File& file, std::string_view arch) : file_(file), arch_(arch) {}

  std::string key(std::string_view suffix) const { return str_cat(arch_, ".", suffix); }

  Result<int64_t> positive_int(std::string_view suffix) const {
    const std::string k = key(suffix);
    auto v = file_.get_int(k);
    if (!v) return std::unexpected(v.error());
    if (*v <= 0 || *v > (int64_t{1} << 31)) return fail(str_cat(k, " = ", *v, " is out of range"));
    return *v;
  }
  Result<int64_t> positive_int_or(std::string_view suffix, int64_t fallback) const {
    if (!file_.find(key(suffix))) return fallback;
    return positive_int(suffix);
  }
  Result<int64_t> int_or(std::string_view suffix, int64_t fallback) const {
    return file_.get_int_or(key(suffix), fallback);
  }
  Result<bool> bool_or(std::string_view suffix, bool fallback) const {
    return file_.get_bool_or(key(suffix), fallback);
  }
  Result<double> float_or(std::string_view suffix, double fallback) const {
    return file_.get_float_or(key(suffix), fallback);
  }
  Result<std::string_view> string_or(std::string_view suffix, std::string_view fallback) const {
    return file_.get_string_or(key(suffix), fallback);
  }

 private:
  const gguf::File& file_;
  std::string_view arch_;
};

Status read_encoder_params(const MetadataReader& md, HyperParams& hp) {
  double eps = 0;
  HEARTH_TRY_ASSIGN(eps, md.float_or(mk::kLayerNormEpsilon, 1e-12));
  if (!(eps > 0 && eps < 1)) {
    return fail(str_cat(md.key(mk::kLayerNormEpsilon), " = ", eps, " is out of range"));
  }
  hp.norm_eps = static_cast<float>(eps);
  bool causal = false;
  HEARTH_TRY_ASSIGN(causal, md.bool_or(mk::kCausal, false));
  if (causal) return fail(str_cat(md.key(mk::kCausal), " = true is not supported for an encoder"));
  // Files converted without a sentence-transformers pooling config say nothing (or "none");
  // /v1/embeddings needs one vector per input, and the mean is what such models are
  // usually pooled with.
  int64_t pooling = 0;
  HEARTH_TRY_ASSIGN(pooling, md.int_or(mk::kPoolingType, 0));
  switch (pooling) {
    case 0:
    case 1: hp.pooling = Pooling::kMean; break;
    case 2: hp.pooling = Pooling::kCls; break;
    case 3: hp.pooling = Pooling::kLast; break;
    default:
      // 4 is a reranker's classification head, which hearth does not run.
      return fail(str_cat(md.key(mk::kPoolingType), " = ", pooling, " is not supported"));
  }
  return ok();
}

Result<HyperParams> read_hyper_params(const gguf::File& file, const ArchSpec& arch) {
  MetadataReader md(file, arch.name);
  HyperParams hp;
  HEARTH_TRY_ASSIGN(hp.n_embd, md.positive_int(mk::kEmbeddingLength));
  HEARTH_TRY_ASSIGN(hp.n_layer, md.positive_int(mk::kBlockCount));
  HEARTH_TRY_ASSIGN(hp.n_ff, md.positive_int(mk::kFeedForwardLength));
  HEARTH_TRY_ASSIGN(hp.n_head, md.positive_int(mk::kHeadCount));
  HEARTH_TRY_ASSIGN(hp.n_head_kv, md.positive_int_or(mk::kHeadCountKv, hp.n_head));
  HEARTH_TRY_ASSIGN(hp.n_ctx_train, md.positive_int_or(mk::kContextLength, 2048));
  if (hp.n_embd % hp.n_head != 0 && !file.find(md.key(mk::kKeyLength))) {
    return fail(str_cat(md.key(mk::kEmbeddingLength), " = ", hp.n_embd, " is not a multiple of ",
                        md.key(mk::kHeadCount), " = ", hp.n_head));
  }
  HEARTH_TRY_ASSIGN(hp.head_dim, md.positive_int_or(mk::kKeyLength, hp.n_embd / hp.n_head));
  int64_t value_length = 0;
  HEARTH_TRY_ASSIGN(value_length, md.positive_int_or(mk::kValueLength, hp.head_dim));
  if (value_length != hp.head_dim) {
    return fail(str_cat(md.key(mk::kValueLength), " = ", value_length,
                        " differs from the key length ", hp.head_dim, "; not supported"));
  }
  if (hp.n_head % hp.n_head_kv != 0) {
    return fail(str_cat(md.key(mk::kHeadCount), " = ", hp.n_head, " is not a multiple of ",
                        md.key(mk::kHeadCountKv), " = ", hp.n_head_kv));
  }
  HEARTH_TRY_ASSIGN(hp.n_rot, md.positive_int_or(mk::kRopeDimensionCount, hp.head_dim));
  if (hp.n_rot > hp.head_dim || hp.n_rot % 2 != 0) {
    return fail(str_cat(md.key(mk::kRopeDimensionCount), " = ", hp.n_rot,
                        " must be even and at most the head size ", hp.head_dim));
  }
  double eps = 0;
  HEARTH_TRY_ASSIGN(eps, md.float_or(mk::kRmsEpsilon, 1e-5));
  if (!(eps > 0 && eps < 1)) {
    return fail(str_cat(md.key(mk::kRmsEpsilon), " = ", eps, " is out of range"));
  }
  hp.rms_eps = static_cast<float>(eps);
  if (arch.sliding_window && arch.swa_period > 0) {
    // Interleaved local layers are the architecture, not an option: a file without the window
    // would silently turn every layer global.
    HEARTH_TRY_ASSIGN(hp.n_swa, md.positive_int(mk::kSlidingWindow));
    hp.swa_period = arch.swa_period;
    hp.rope_freq_base_swa = arch.swa_rope_base;
  } else if (arch.sliding_window) {
    HEARTH_TRY_ASSIGN(hp.n_swa, md.positive_int_or(mk::kSlidingWindow, 0));
  }
  hp.nope_period = arch.nope_period;
  if (arch.moe) {
    HEARTH_TRY_ASSIGN(hp.n_expert, md.positive_int(mk::kExpertCount));
    HEARTH_TRY_ASSIGN(hp.n_expert_used, md.positive_int(mk::kExpertUsedCount));
    if (hp.n_expert_used > hp.n_expert) {
      return fail(str_cat(md.key(mk::kExpertUsedCount), " = ", hp.n_expert_used, " exceeds ",
                          md.key(mk::kExpertCount), " = ", hp.n_expert));
    }
    // Files without the key size an expert as the dense width split over the used experts.
    HEARTH_TRY_ASSIGN(hp.n_ff_exp,
                      md.positive_int_or(mk::kExpertFeedForwardLength,
                                         std::max<int64_t>(1, hp.n_ff / hp.n_expert_used)));
  }
  double base = 0;
  HEARTH_TRY_ASSIGN(base, md.float_or(mk::kRopeFreqBase, 10000.0));
  if (!(base > 1)) return fail(str_cat(md.key(mk::kRopeFreqBase), " = ", base, " is out of range"));
  hp.rope_freq_base = static_cast<float>(base);

  // RoPE scaling. Older files only have rope.scale_linear.
  std::string_view scaling_type;
  HEARTH_TRY_ASSIGN(scaling_type, md.string_or(mk::kRopeScalingType, ""));
  double factor = 0;
  HEARTH_TRY_ASSIGN(factor, md.float_or(mk::kRopeScalingFactor, 0.0));
  if (factor == 0) HEARTH_TRY_ASSIGN(factor, md.float_or(mk::kRopeScaleLinear, 0.0));
  if (factor < 0)
    return fail(str_cat(md.key(mk::kRopeScalingFactor), " = ", factor, " is negative"));
  if (scaling_type.empty()) scaling_type = factor > 0 && factor != 1 ? "linear" : "none";
  if (scaling_type == "linear") {
    hp.rope_scaling = RopeScalingType::kLinear;
  } else if (scaling_type == "yarn") {
    hp.rope_scaling = RopeScalingType::kYarn;
  } else if (scaling_type != "none" && scaling_type != "longrope") {
    // LongRoPE is carried by the factor tensors; anything else we cannot reproduce.
    return fail(str_cat(md.key(mk::kRopeScalingType), " = '", scaling_type, "' is not supported"));
  }
  if (hp.rope_scaling != RopeScalingType::kNone && factor > 0) {
    hp.rope_freq_scale = static_cast<float>(1.0 / factor);
  }
  HEARTH_TRY_ASSIGN(hp.rope_n_ctx_orig,
                    md.positive_int_or(mk::kRopeScalingOrigCtx, hp.n_ctx_train));
  double attn_factor = 0;
  HEARTH_TRY_ASSIGN(attn_factor, md.float_or(mk::kRopeScalingAttnFactor, 0.0));
  if (attn_factor > 0) {
    hp.rope_attn_factor = static_cast<float>(attn_factor);
  } else if (arch.long_rope_factors && hp.n_ctx_train > hp.rope_n_ctx_orig) {
    // LongRoPE's magnitude correction, for files converted without the key.
    const double scale = static_cast<double>(hp.n_ctx_train) / hp.rope_n_ctx_orig;
    hp.rope_attn_factor = static_cast<float>(
        std::sqrt(1.0 + std::log(scale) / std::log(static_cast<double>(hp.rope_n_ctx_orig))));
  }
  double beta = 0;
  HEARTH_TRY_ASSIGN(beta, md.float_or(mk::kYarnBetaFast, 32.0));
  hp.yarn_beta_fast = static_cast<float>(beta);
  HEARTH_TRY_ASSIGN(beta, md.float_or(mk::kYarnBetaSlow, 1.0));
  hp.yarn_beta_slow = static_cast<float>(beta);
  if (arch.family == Family::kBert) {
    if (auto s = read_encoder_params(md, hp); !s) return std::unexpected(s.error());
  }
  return hp;
}

// Looks tensors up by name and checks shape and type.
class TensorBinder {
 public:
  explicit TensorBinder(const gguf::File& file) : file_(file) {}

  // A weight matrix of `rows` x `cols` (GGUF dims {cols, rows}). Null data when absent and
  // not required.
  Result<WeightMatrix> matrix(const std::string& name, int64_t cols, int64_t rows,
                              bool required = true) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) {
      if (!required) return WeightMatrix{};
      return fail(str_cat("missing tensor '", name, "'"));
    }
    const int64_t expected[] = {cols, rows};
    if (t->dims.size() != 2 || t->dims[0] != cols || t->dims[1] != rows) {
      return fail(str_cat("tensor '", name, "' has shape ", shape_string(t->dims), ", expected ",
                          shape_string(expected)));
    }
    if (auto s = check_type(*t); !s) return std::unexpected(s.error());
    return WeightMatrix{.type = t->type, .data = t->data, .rows = rows, .cols = cols};
  }

  // A vector of n elements converted to F32; empty when absent and not required.
  Result<std::vector<float>> vector(const std::string& name, int64_t n,
                                    bool required = true) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) {
      if (!required) return std::vector<float>{};
      return fail(str_cat("missing tensor '", name, "'"));
    }
    const int64_t expected[] = {n};
    if (t->dims.size() != 1 || t->dims[0] != n) {
      return fail(str_cat("tensor '", name, "' has shape ", shape_string(t->dims), ", expected ",
                          shape_string(expected)));
    }
    if (auto s = check_type(*t); !s) return std::unexpected(s.error());
    std::vector<float> out(static_cast<size_t>(n));
    if (t->type == TensorType::F32) {
      std::memcpy(out.data(), t->data, out.size() * sizeof(float));
    } else {
      get_row(WeightMatrix{.type = t->type, .data = t->data, .rows = 1, .cols = n}, 0, out.data());
    }
    return out;
  }

  // The n_expert matrices of `rows` x `cols` stacked in one 3-D tensor (GGUF dims {cols, rows,
  // n_expert}), one view per expert.
  Result<std::vector<WeightMatrix>> experts(const std::string& name, int64_t cols, int64_t rows,
                                            int64_t n_expert) const {
    const gguf::TensorInfo* t = file_.find_tensor(name);
    if (!t) return fail(str_cat("missing tensor '", name, "'"));
    const int64_t expected[] = {cols, rows, n_expert};
    if (t->dims.size() != 3 || t->dims[0] != cols || t->dims[1] != rows || t->dims[2] != n_expert) {
      return fail(str_cat("tensor '", name, "' has shape ", shape_string(t->dims), ", expected ",
                          shape_string(expected)));
    }
    if (auto s = check_type(*t); !s) return std::unexpected(s.error());
    const int64_t expert_bytes = rows * row_bytes(traits(t->type), cols);
    std::vector<WeightMatrix> out;
    out.reserve(static_cast<size_t>(n_expert));
    for (int64_t e = 0; e < n_expert; ++e) {
      out.push_back(WeightMatrix{.type = t->type,
                                 .data = static_cast<const uint8_t*>(t->data) + e * expert_bytes,
                                 .rows = rows,
                                 .cols = cols});
    }
    return out;
  }

  bool has(std::string_view name) const { return file_.find_tensor(name) != nullptr; }

 private:
  static Status check_type(const gguf::TensorInfo& t) {
    const TensorTypeTraits& tr = traits(t.type);
    // Matrices go through matmul (`computable`), vectors and embedding rows through
    // dequantization; a weight must support both.
    if (!tr.computable || !can_dequantize(t.type)) {
      return fail(str_cat("tensor '", t.name, "' has type ", tr.name,
                          ", which hearth cannot compute with"));
    }
    if (t.dims[0] % tr.block_size != 0) {
      return fail(str_cat("tensor '", t.name, "' of type ", tr.name, " has rows of ", t.dims[0],
                          " elements, not a multiple of the block size ", tr.block_size));
    }
    return ok();
  }

  const gguf::File& file_;
};

// The q/k/v projections of layer `il`, fused into one matrix or separate, with their biases
// where the table has them (a fused bias is split into bq/bk/bv).
Status bind_qkv(const TensorBinder& bind, const ArchSpec& arch, const HyperParams& hp, int64_t il,
                LayerWeights& layer) {
  auto name = [il](std::string_view suffix) { return str_cat("blk.", il, ".", suffix); };
  const int64_t d = hp.n_embd;
  const int64_t q_dim = hp.q_dim();
  const int64_t kv_dim = hp.kv_dim();
  const bool want_bias = arch.qkv_bias != Presence::kAbsent;
  const bool need_bias = arch.qkv_bias == Presence::kRequired;
  const bool fused = arch.fused_qkv == Presence::kRequired ||
                     (arch.fused_qkv == Presence::kOptional && bind.has(name(tn::kAttnQkv)));
  if (fused) {
    HEARTH_TRY_ASSIGN(layer.wqkv, bind.matrix(name(tn::kAttnQkv), d, q_dim + 2 * kv_dim));
    if (want_bias) {
      std::vector<float> b;
      HEARTH_TRY_ASSIGN(b, bind.vector(name(tn::kAttnQkvBias), q_dim + 2 * kv_dim, need_bias));
      if (!b.empty()) {
        layer.bq.assign(b.begin(), b.begin() + q_dim);
        layer.bk.assign(b.begin() + q_dim, b.begin() + q_dim + kv_dim);
        layer.bv.assign(b.begin() + q_dim + kv_dim, b.end());
      }
    }
  } else {
    HEARTH_TRY_ASSIGN(layer.wq, bind.matrix(name(tn::kAttnQ), d, q_dim));
    HEARTH_TRY_ASSIGN(layer.wk, bind.matrix(name(tn::kAttnK), d, kv_dim));
    HEARTH_TRY_ASSIGN(layer.wv, bind.matrix(name(tn::kAttnV), d, kv_dim));
    if (want_bias) {
      HEARTH_TRY_ASSIGN(layer.bq, bind.vector(name(tn::kAttnQBias), q_dim, need_bias));
      HEARTH_TRY_ASSIGN(layer.bk, bind.vector(name(tn::kAttnKBias), kv_dim, need_bias));
      HEARTH_TRY_ASSIGN(layer.bv, bind.vector(name(tn::kAttnVBias), kv_dim, need_bias));
    }
  }
  return ok();
}

Status bind_layer(const TensorBinder& bind, const ArchSpec& arch, const HyperParams& hp, int64_t il,
                  LayerWeights& layer) {
  auto name = [il](std::string_view suffix) { return str_cat("blk.", il, ".", suffix); };
  const int64_t d = hp.n_embd;
  const int64_t q_dim = hp.q_dim();

  HEARTH_TRY_ASSIGN(layer.attn_norm, bind.vector(name(tn::kAttnNorm), d));
  if (auto st = bind_qkv(bind, arch, hp, il, layer); !st) return st;
  HEARTH_TRY_ASSIGN(layer.wo, bind.matrix(name(tn::kAttnOutput), q_dim, d));
  if (arch.output_bias != Presence::kAbsent) {
    HEARTH_TRY_ASSIGN(layer.bo, bind.vector(name(tn::kAttnOutputBias), d,
                                            arch.output_bias == Presence::kRequired));
  }
  if (arch.qk_norm) {
    HEARTH_TRY_ASSIGN(layer.q_norm, bind.vector(name(tn::kAttnQNorm), hp.head_dim));
    HEARTH_TRY_ASSIGN(layer.k_norm, bind.vector(name(tn::kAttnKNorm), hp.head_dim));
  }
  if (arch.post_norms) {
    HEARTH_TRY_ASSIGN(layer.post_attn_norm, bind.vector(name(tn::kPostAttentionNorm), d));
    HEARTH_TRY_ASSIGN(layer.post_ffn_norm, bind.vector(name(tn::kPostFfwNorm), d));
  }
  HEARTH_TRY_ASSIGN(layer.ffn_norm, bind.vector(name(tn::kFfnNorm), d));
  if (arch.moe) {
    const int64_t ne = hp.n_expert;
    HEARTH_TRY_ASSIGN(layer.ffn_gate_inp, bind.matrix(name(tn::kFfnGateInp), d, ne));
    HEARTH_TRY_ASSIGN(layer.gate_exps, bind.experts(name(tn::kFfnGateExps), d, hp.n_ff_exp, ne));
    HEARTH_TRY_ASSIGN(layer.up_exps, bind.experts(name(tn::kFfnUpExps), d, hp.n_ff_exp, ne));
    HEARTH_TRY_ASSIGN(layer.down_exps, bind.experts(name(tn::kFfnDownExps), hp.n_ff_exp, d, ne));
    return ok();
  }
  if (arch.fused_gate_up) {
    HEARTH_TRY_ASSIGN(layer.w_up, bind.matrix(name(tn::kFfnUp), d, 2 * hp.n_ff));
  } else {
    HEARTH_TRY_ASSIGN(layer.w_gate, bind.matrix(name(tn::kFfnGate), d, hp.n_ff));
    HEARTH_TRY_ASSIGN(layer.w_up, bind.matrix(name(tn::kFfnUp), d, hp.n_ff));
  }
  HEARTH_TRY_ASSIGN(layer.w_down, bind.matrix(name(tn::kFfnDown), hp.n_ff, d));
  return ok();
}

// Encoder block: q/k/v (separate, or fused for nomic-bert) and the attention output, then
// post-norm LayerNorms (weight and bias) after the attention and after the FFN. Which biases
// exist and whether the FFN is gated come from the table.
Status bind_encoder_layer(const TensorBinder& bind, const ArchSpec& arch, const HyperParams& hp,
                          int64_t il, LayerWeights& layer) {
  auto name = [il](std::string_view suffix) { return str_cat("blk.", il, ".", suffix); };
  auto need = [](Presence p) { return p == Presence::kRequired; };
  const int64_t d = hp.n_embd;
  const int64_t q_dim = hp.q_dim();
  if (auto st = bind_qkv(bind, arch, hp, il, layer); !st) return st;
  HEARTH_TRY_ASSIGN(layer.wo, bind.matrix(name(tn::kAttnOutput), q_dim, d));
  if (arch.output_bias != Presence::kAbsent) {
    HEARTH_TRY_ASSIGN(layer.bo, bind.vector(name(tn::kAttnOutputBias), d, need(arch.output_bias)));
  }
  HEARTH_TRY_ASSIGN(layer.attn_out_norm, bind.vector(name(tn::kAttnOutputNorm), d));
  HEARTH_TRY_ASSIGN(layer.attn_out_norm_b, bind.vector(name(tn::kAttnOutputNormBias), d));
  if (arch.gated_ffn) HEARTH_TRY_ASSIGN(layer.w_gate, bind.matrix(name(tn::kFfnGate), d, hp.n_ff));
  HEARTH_TRY_ASSIGN(layer.w_up, bind.matrix(name(tn::kFfnUp), d, hp.n_ff));
  HEARTH_TRY_ASSIGN(layer.w_down, bind.matrix(name(tn::kFfnDown), hp.n_ff, d));
  if (arch.ffn_bias != Presence::kAbsent) {
    HEARTH_TRY_ASSIGN(layer.b_up, bind.vector(name(tn::kFfnUpBias), hp.n_ff, need(arch.ffn_bias)));
    HEARTH_TRY_ASSIGN(layer.b_down, bind.vector(name(tn::kFfnDownBias), d, need(arch.ffn_bias)));
  }
  HEARTH_TRY_ASSIGN(layer.layer_out_norm, bind.vector(name(tn::kLayerOutputNorm), d));
  HEARTH_TRY_ASSIGN(layer.layer_out_norm_b, bind.vector(name(tn::kLayerOutputNormBias), d));
  return ok();
}

// Everything of an encoder but its token embedding, which the caller has bound.
Status bind_encoder(const gguf::File& file, const TensorBinder& bind, ModelWeights& w) {
  const ArchSpec& arch = *w.arch;
  const HyperParams& hp = w.hp;
  const int64_t d = hp.n_embd;
  if (arch.learned_positions) {
    // One row per position the model was trained for; the session refuses longer inputs.
    HEARTH_TRY_ASSIGN(w.position_embd,
                      bind.matrix(std::string(tn::kPositionEmbedding), d, hp.n_ctx_train));
  }
  // Usually 2 segment types, of which a single-segment input uses the first. Some
  // conversions have none.
  if (const gguf::TensorInfo* types = file.find_tensor(tn::kTokenTypes)) {
    if (types->dims.size() != 2 || types->dims[1] <= 0) {
      return fail(str_cat("tensor '", tn::kTokenTypes, "' has shape ", shape_string(types->dims),
                          ", expected [", d, ", n_token_types]"));
    }
    HEARTH_TRY_ASSIGN(w.token_types, bind.matrix(std::string(tn::kTokenTypes), d, types->dims[1]));
  }
  HEARTH_TRY_ASSIGN(w.token_embd_norm, bind.vector(std::string(tn::kTokenEmbeddingNorm), d));
  HEARTH_TRY_ASSIGN(w.token_embd_norm_b, bind.vector(std::string(tn::kTokenEmbeddingNormBias), d));
  w.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (auto s = bind_encoder_layer(bind, arch, hp, il, w.layers[il]); !s) return s;
  }
  return ok();
}

}  // namespace

const std::vector<float>& ModelWeights::rope_factors_for(int64_t n_ctx) const {
  if (!rope_factors_long.empty() && n_ctx > hp.rope_n_ctx_orig) return rope_factors_long;
  if (!rope_factors_short.empty()) return rope_factors_short;
  return rope_freqs;
}

Result<ModelWeights> load_model_weights(const gguf::File& file) {
  auto arch_name = file.get_string("general.architecture");
  if (!arch_name) return std::unexpected(arch_name.error());
  const ArchSpec* arch = find_arch(*arch_name);
  if (!arch) {
    std::string known;
    for (const auto& a : arch_table()) known += str_cat(known.empty() ? "" : ", ", a.name);
    return fail(
        str_cat("architecture '", *arch_name, "' is not supported (supported: ", known, ")"));
  }
  ModelWeights w;
  w.arch = arch;
  w.source_file_backed = file.file_backed();
  HEARTH_TRY_ASSIGN(w.hp, read_hyper_params(file, *arch));
  HyperParams& hp = w.hp;
  TensorBinder bind(file);

  // The vocabulary size comes from the embedding itself.
  const gguf::TensorInfo* embd = file.find_tensor(tn::kTokenEmbedding);
  if (!embd) return fail(str_cat("missing tensor '", tn::kTokenEmbedding, "'"));
  if (embd->dims.size() != 2 || embd->dims[1] <= 0) {
    return fail(str_cat("tensor '", tn::kTokenEmbedding, "' has shape ", shape_string(embd->dims),
                        ", expected [", hp.n_embd, ", n_vocab]"));
  }
  hp.n_vocab = embd->dims[1];
  HEARTH_TRY_ASSIGN(w.token_embd,
                    bind.matrix(std::string(tn::kTokenEmbedding), hp.n_embd, hp.n_vocab));
  if (arch->family == Family::kBert) {
    if (auto s = bind_encoder(file, bind, w); !s) return std::unexpected(s.error());
    return w;
  }
  HEARTH_TRY_ASSIGN(w.output_norm, bind.vector(std::string(tn::kOutputNorm), hp.n_embd));
  HEARTH_TRY_ASSIGN(w.output, bind.matrix(std::string(tn::kOutput), hp.n_embd, hp.n_vocab,
                                          !arch->may_tie_output));
  if (!w.output.data) {
    w.output = w.token_embd;
    w.tied_output = true;
  }

  const int64_t n_freqs = hp.n_rot / 2;
  HEARTH_TRY_ASSIGN(w.rope_freqs, bind.vector(std::string(tn::kRopeFreqs), n_freqs, false));
  if (arch->long_rope_factors) {
    HEARTH_TRY_ASSIGN(w.rope_factors_long,
                      bind.vector(std::string(tn::kRopeFactorsLong), n_freqs, false));
    HEARTH_TRY_ASSIGN(w.rope_factors_short,
                      bind.vector(std::string(tn::kRopeFactorsShort), n_freqs, false));
  }

  w.layers.resize(static_cast<size_t>(hp.n_layer));
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (auto s = bind_layer(bind, *arch, hp, il, w.layers[il]); !s)
      return std::unexpected(s.error());
  }
  return w;
}

#undef HEARTH_TRY_ASSIGN

}  // namespace hearth::models
