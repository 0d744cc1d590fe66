// Per-architecture descriptions, kept as data.
//
// Everything that differs between the supported transformer families and can be said without
// code lives in an `ArchSpec`: the GGUF metadata prefix, which tensors exist and under which
// names, which are optional or fused, the RoPE layout. The loader (`model_loader.cpp`) reads
// the table to bind and validate weights; the forward pass (`llama_family.cpp`) reads the
// bound weights plus the few flags it needs. Adding an architecture that is a llama variant is
// one table entry; a structurally different one adds a `Family` and one forward-pass file
// (`bert_family.cpp` for the encoder-only embedding models).
#pragma once

#include <span>
#include <string_view>

namespace hearth::models {

// Which pairs of a head's dimensions RoPE rotates together.
enum class RopeStyle {
  kAdjacentPairs,  // (x[2i], x[2i+1]): original llama / GPT-J layout
  kNeoxHalves,     // (x[i], x[i + n_rot/2]): GPT-NeoX layout used by qwen2, phi3
};

// Forward-pass implementations. Architectures of one family share code.
enum class Family {
  kLlama,  // pre-norm RMSNorm decoder, GQA attention with RoPE, SwiGLU FFN
  // Post-norm LayerNorm encoder with bidirectional attention: learned positions and a GELU
  // FFN with biases (bert), or RoPE and SwiGLU (nomic-bert). It produces pooled embeddings
  // and cannot generate.
  kBert,
};

// How an encoder turns its per-token states into one vector (GGUF "<arch>.pooling_type").
enum class Pooling { kNone = 0, kMean = 1, kCls = 2, kLast = 3 };

enum class Presence { kAbsent, kOptional, kRequired };

// Activation of a gated FFN: act(ffn_gate x) * ffn_up x.
enum class FfnActivation {
  kSilu,      // SwiGLU (llama, qwen, phi)
  kGeluTanh,  // GeGLU with the tanh approximation of GELU, as Gemma was trained
};

struct ArchSpec {
  std::string_view name;  // value of general.architecture; also the metadata key prefix
  Family family;
  RopeStyle rope_style;
  // Attention projections: either separate q/k/v, or one fused [q; k; v] matrix. With
  // kOptional, the loader takes the fused one when present and falls back to separate ones.
  Presence fused_qkv;
  Presence qkv_bias;     // attn_q/k/v.bias (or attn_qkv.bias when fused)
  Presence output_bias;  // attn_output.bias
  // FFN: ffn_up holds [gate; up] (2 * n_ff rows) and ffn_gate is absent.
  bool fused_gate_up;
  // output.weight may be missing, in which case the token embedding is reused (tied).
  bool may_tie_output;
  // LongRoPE frequency factors rope_factors_long/short.weight (phi3).
  bool long_rope_factors;
  // Honors attention.sliding_window: a query sees only the last n_swa positions. phi3 (all
  // layers: Phi-3-mini-4k was trained with a 2047-token window; later Phi set it beyond the
  // context) and gemma3 (its local layers, see swa_period).
  bool sliding_window;
  // Encoder-only: no KV cache, no logits; Session::embed is the only way to run it.
  bool embedding_only = false;
  // Encoders: learned absolute positions (position_embd.weight) instead of RoPE on q and k.
  bool learned_positions = false;
  // Encoders: SwiGLU FFN (silu(ffn_gate x) * ffn_up x) instead of GELU(ffn_up x).
  bool gated_ffn = false;
  Presence ffn_bias = Presence::kAbsent;  // encoders: ffn_up.bias and ffn_down.bias

  // Decoders (Family::kLlama) beyond llama itself:
  // Per-head RMSNorm of q and k (attn_q_norm / attn_k_norm, head_dim weights) before RoPE
  // (qwen3, gemma3).
  bool qk_norm = false;
  // RMSNorms of the attention output and of the FFN output before each residual add
  // (post_attention_norm / post_ffw_norm; gemma2/3 "sandwich" norms).
  bool post_norms = false;
  // The token embedding is multiplied by sqrt(n_embd) (gemma): the tied output matrix is the
  // unscaled one.
  bool scale_embedding = false;
  FfnActivation ffn_activation = FfnActivation::kSilu;
  // Interleaved local/global attention (gemma3): with a period P > 0, layer il is a global
  // layer when il % P == P - 1 and a sliding-window layer otherwise; local layers use RoPE base
  // `swa_rope_base` without scaling, global ones rope.freq_base with the file's scaling. 0: every
  // layer is the same kind (all windowed when `sliding_window` is set, as phi3).
  int swa_period = 0;
  float swa_rope_base = 10000.0f;
  // Layers without positional encoding (SmolLM3's "NoPE" layers): with a period P > 0, layer il
  // skips RoPE on q and k when il % P == P - 1. No GGUF key carries it: SmolLM3 uses 4 (its HF
  // no_rope_layer_interval), the value llama.cpp also fixes for the architecture.
  int nope_period = 0;
  // Routed experts instead of one FFN (qwen3moe): a router (ffn_gate_inp) scores expert_count
  // SwiGLU experts stored as 3-D tensors (ffn_gate_exps / ffn_up_exps / ffn_down_exps); each
  // token runs the expert_used_count best, weighted by their softmax probabilities
  // renormalized over the chosen ones.
  bool moe = false;
};

// Tensor names. Per-layer names are "blk.<N>." + the suffix below.
namespace tensor_names {
inline constexpr std::string_view kTokenEmbedding = "token_embd.weight";
inline constexpr std::string_view kOutputNorm = "output_norm.weight";
inline constexpr std::string_view kOutput = "output.weight";
inline constexpr std::string_view kRopeFreqs = "rope_freqs.weight";  // llama3-style factors
inline constexpr std::string_view kRopeFactorsLong = "rope_factors_long.weight";
inline constexpr std::string_view kRopeFactorsShort = "rope_factors_short.weight";
inline constexpr std::string_view kAttnNorm = "attn_norm.weight";
inline constexpr std::string_view kAttnQ = "attn_q.weight";
inline constexpr std::string_view kAttnK = "attn_k.weight";
inline constexpr std::string_view kAttnV = "attn_v.weight";
inline constexpr std::string_view kAttnQkv = "attn_qkv.weight";
inline constexpr std::string_view kAttnQBias = "attn_q.bias";
inline constexpr std::string_view kAttnKBias = "attn_k.bias";
inline constexpr std::string_view kAttnVBias = "attn_v.bias";
inline constexpr std::string_view kAttnQkvBias = "attn_qkv.bias";
inline constexpr std::string_view kAttnOutput = "attn_output.weight";
inline constexpr std::string_view kAttnOutputBias = "attn_output.bias";
inline constexpr std::string_view kFfnNorm = "ffn_norm.weight";
inline constexpr std::string_view kFfnGate = "ffn_gate.weight";
inline constexpr std::string_view kFfnUp = "ffn_up.weight";
inline constexpr std::string_view kFfnDown = "ffn_down.weight";
// BERT family (post-norm LayerNorms carry a bias beside the weight).
inline constexpr std::string_view kTokenTypes = "token_types.weight";
inline constexpr std::string_view kPositionEmbedding = "position_embd.weight";
inline constexpr std::string_view kTokenEmbeddingNorm = "token_embd_norm.weight";
inline constexpr std::string_view kTokenEmbeddingNormBias = "token_embd_norm.bias";
inline constexpr std::string_view kAttnOutputNorm = "attn_output_norm.weight";
inline constexpr std::string_view kAttnOutputNormBias = "attn_output_norm.bias";
inline constexpr std::string_view kFfnUpBias = "ffn_up.bias";
inline constexpr std::string_view kFfnDownBias = "ffn_down.bias";
inline constexpr std::string_view kLayerOutputNorm = "layer_output_norm.weight";
inline constexpr std::string_view kLayerOutputNormBias = "layer_output_norm.bias";
// qwen3 / gemma3 per-head q/k norms and gemma's post-norms.
inline constexpr std::string_view kAttnQNorm = "attn_q_norm.weight";
inline constexpr std::string_view kAttnKNorm = "attn_k_norm.weight";
inline constexpr std::string_view kPostAttentionNorm = "post_attention_norm.weight";
inline constexpr std::string_view kPostFfwNorm = "post_ffw_norm.weight";
// Mixture of experts: the router and the experts' stacked [n_expert][rows][cols] matrices.
inline constexpr std::string_view kFfnGateInp = "ffn_gate_inp.weight";
inline constexpr std::string_view kFfnGateExps = "ffn_gate_exps.weight";
inline constexpr std::string_view kFfnUpExps = "ffn_up_exps.weight";
inline constexpr std::string_view kFfnDownExps = "ffn_down_exps.weight";
}  // namespace tensor_names

// Metadata keys, relative to the architecture prefix ("<arch>." + key).
namespace metadata_keys {
inline constexpr std::string_view kContextLength = "context_length";
inline constexpr std::string_view kEmbeddingLength = "embedding_length";
inline constexpr std::string_view kBlockCount = "block_count";
inline constexpr std::string_view kFeedForwardLength = "feed_forward_length";
inline constexpr std::string_view kHeadCount = "attention.head_count";
inline constexpr std::string_view kHeadCountKv = "attention.head_count_kv";
inline constexpr std::string_view kKeyLength = "attention.key_length";
inline constexpr std::string_view kValueLength = "attention.value_length";
inline constexpr std::string_view kRmsEpsilon = "attention.layer_norm_rms_epsilon";
inline constexpr std::string_view kSlidingWindow = "attention.sliding_window";
inline constexpr std::string_view kRopeFreqBase = "rope.freq_base";
inline constexpr std::string_view kRopeDimensionCount = "rope.dimension_count";
inline constexpr std::string_view kRopeScalingType = "rope.scaling.type";
inline constexpr std::string_view kRopeScalingFactor = "rope.scaling.factor";
inline constexpr std::string_view kRopeScaleLinear = "rope.scale_linear";  // older files
inline constexpr std::string_view kRopeScalingOrigCtx = "rope.scaling.original_context_length";
inline constexpr std::string_view kRopeScalingAttnFactor = "rope.scaling.attn_factor";
inline constexpr std::string_view kYarnBetaFast = "rope.scaling.yarn_beta_fast";
inline constexpr std::string_view kYarnBetaSlow = "rope.scaling.yarn_beta_slow";
inline constexpr std::string_view kLayerNormEpsilon = "attention.layer_norm_epsilon";
inline constexpr std::string_view kCausal = "attention.causal";
inline constexpr std::string_view kPoolingType = "pooling_type";
inline constexpr std::string_view kExpertCount = "expert_count";
inline constexpr std::string_view kExpertUsedCount = "expert_used_count";
inline constexpr std::string_view kExpertFeedForwardLength = "expert_feed_forward_length";
}  // namespace metadata_keys

// The table itself.
std::span<const ArchSpec> arch_table();
// The entry for a general.architecture value, or null when hearth does not support it.
const ArchSpec* find_arch(std::string_view name);

}  // namespace hearth::models
