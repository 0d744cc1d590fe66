// A loaded model's hyper-parameters and weights, bound to a GGUF file's tensor data.
//
// `load_model_weights` reads the hyper-parameters from metadata, finds every tensor the
// architecture table asks for and checks its shape and type, so the forward pass can trust
// everything here without further checks. Matrices stay zero-copy views into the GGUF
// mapping (the caller keeps the gguf::File alive); small vectors (norms, biases, RoPE factors)
// are converted to F32 copies. Immutable after loading; safe to read from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/models/arch_table.h"
#include "engine/tensor/huge_page_buffer.h"
#include "hearth/status.h"

namespace hearth::models {

enum class RopeScalingType { kNone, kLinear, kYarn };

struct HyperParams {
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_ff = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // per-head width of q, k and v
  int64_t n_rot = 0;     // leading dims of each head that RoPE rotates (partial rotary)
  float rms_eps = 1e-5f;
  int64_t n_swa = 0;  // sliding attention window; 0 = attend to the whole context
  // Interleaved local/global layers (ArchSpec::swa_period): 0 = every layer windowed when
  // n_swa > 0; P = layers il % P == P - 1 are global, the others windowed with their own
  // unscaled RoPE base rope_freq_base_swa.
  int64_t swa_period = 0;
  float rope_freq_base_swa = 10000.0f;
  // ArchSpec::nope_period: layers il % P == P - 1 apply no RoPE; 0 = every layer does.
  int64_t nope_period = 0;
  // Mixture of experts (ArchSpec::moe): experts per layer, experts run per token, and each
  // expert's FFN width. 0 experts: a dense FFN of n_ff.
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;

  float rope_freq_base = 10000.0f;
  RopeScalingType rope_scaling = RopeScalingType::kNone;
  float rope_freq_scale = 1.0f;   // 1 / scaling factor
  int64_t rope_n_ctx_orig = 0;    // original training context (YaRN, LongRoPE)
  float rope_attn_factor = 1.0f;  // multiplies cos/sin (LongRoPE, YaRN magnitude)
  float yarn_beta_fast = 32.0f;
  float yarn_beta_slow = 1.0f;

  // Encoders (Family::kBert).
  float norm_eps = 1e-12f;  // LayerNorm epsilon
  Pooling pooling = Pooling::kMean;

  // Whether layer il attends only to the last n_swa positions.
  bool layer_is_swa(int64_t il) const {
    if (n_swa <= 0) return false;
    return swa_period <= 0 || il % swa_period != swa_period - 1;
  }
  // Whether layer il rotates with the local RoPE (base rope_freq_base_swa, no scaling).
  bool layer_has_local_rope(int64_t il) const { return swa_period > 0 && layer_is_swa(il); }
  // Whether layer il rotates q and k at all.
  bool layer_has_rope(int64_t il) const {
    return nope_period <= 0 || il % nope_period != nope_period - 1;
  }

  int64_t q_dim() const { return n_head * head_dim; }
  int64_t kv_dim() const { return n_head_kv * head_dim; }
};

struct LayerWeights {
  std::vector<float> attn_norm;
  // Either wqkv (fused, rows = q_dim + 2 * kv_dim) or wq/wk/wv; unused ones have data null.
  WeightMatrix wq, wk, wv, wqkv;
  std::vector<float> bq, bk, bv;  // empty when the model has no bias
  WeightMatrix wo;
  std::vector<float> bo;
  std::vector<float> ffn_norm;
  // Per-head RMSNorm weights of q and k (head_dim each), empty unless ArchSpec::qk_norm.
  std::vector<float> q_norm, k_norm;
  // RMSNorms of the attention and FFN outputs before their residual adds, empty unless
  // ArchSpec::post_norms.
  std::vector<float> post_attn_norm, post_ffn_norm;
  // Either w_gate + w_up, or w_up alone holding [gate; up] (rows = 2 * n_ff), w_gate null.
  WeightMatrix w_gate, w_up, w_down;
  // Mixture of experts instead of w_gate/w_up/w_down: the router (n_expert x n_embd) and one
  // view per expert into the stacked tensors (gate/up n_ff_exp x n_embd, down n_embd x
  // n_ff_exp). Empty for dense layers.
  WeightMatrix ffn_gate_inp;
  std::vector<WeightMatrix> gate_exps, up_exps, down_exps;

  // Encoders only: FFN biases and the two post-norm LayerNorms (weight and bias) that follow
  // the attention and the FFN residual adds. attn_norm and ffn_norm stay empty.
  std::vector<float> b_up, b_down;
  std::vector<float> attn_out_norm, attn_out_norm_b;
  std::vector<float> layer_out_norm, layer_out_norm_b;
};

struct ModelWeights {
  const ArchSpec* arch = nullptr;
  HyperParams hp;
  WeightMatrix token_embd;
  WeightMatrix output;  // token_embd itself when tied
  bool tied_output = false;
  std::vector<float> output_norm;
  // Encoders only: learned absolute positions (n_ctx_train rows), token-type embeddings (the
  // first row is the one a single-segment input uses) and the LayerNorm after their sum.
  WeightMatrix position_embd;
  WeightMatrix token_types;
  std::vector<float> token_embd_norm, token_embd_norm_b;
  // Per-frequency divisors of the RoPE angle (length n_rot / 2), empty when absent:
  // llama3-style rope_freqs, or phi3 LongRoPE's short and long factor sets.
  std::vector<float> rope_freqs;
  std::vector<float> rope_factors_short;
  std::vector<float> rope_factors_long;
  std::vector<LayerWeights> layers;
  // Memory the rewritten matrices point into (repack_weights); null while they view the file.
  // Shared by copies of these weights. Its huge-page collapse may still run after loading.
  std::shared_ptr<HugePageBuffer> rewritten;
  // Whether the matrices were bound into a file mapping (gguf::File::file_backed()), whose
  // pages repack_weights may drop once copied; a model loaded from memory keeps its bytes.
  bool source_file_backed = false;

  // RoPE frequency divisors to use for a context of n_ctx tokens (empty = none). LongRoPE
  // switches to the long set once the context exceeds the original training context.
  const std::vector<float>& rope_factors_for(int64_t n_ctx) const;
};

// Reads hyper-parameters and binds all weights of `file`. Errors name the offending key,
// tensor, shape or type.
Result<ModelWeights> load_model_weights(const gguf::File& file);

// At the AVX-512 level, rewrites every matrix that can_interleave() (Q8_0, Q4_0, Q5_0, Q4_K,
// Q6_K) into the interleaved layout (kernels/interleave_layout.h), in memory `w` owns, and
// releases the file pages they were read from (when w.source_file_backed), so the process
// holds each weight once. The memory is
// a HugePageBuffer (w.rewritten), which the caller may move into huge pages later. Returns the
// bytes rewritten (0 unless `kernels` has interleaved_weights: the other tables have no
// kernels for the layout). Call before the weights are shared between threads.
int64_t repack_weights(ModelWeights& w, const KernelTable& kernels);

}  // namespace hearth::models
