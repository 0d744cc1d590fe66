// Random-weight models with the exact shapes of real ones, for reproducible benchmarks.
//
// `write_synthetic_model` writes a GGUF file whose architecture, hyper-parameters, tensor
// names, shapes and quantization mix match a downloadable model (e.g. Qwen2.5-0.5B in Q8_0),
// with weights drawn from a seeded generator and a real vocabulary copied from another GGUF
// (padded with control tokens when the shape's vocabulary is larger). The per-tensor types
// follow the usual mixes: Q4_K_M keeps attn_v/ffn_down of some layers and the output in Q6_K,
// and K-quants fall back to Q5_0/Q5_1/Q8_0 for rows that are not a multiple of 256.
// Embedding models (BERT encoders such as bge-small) are written with their own tensor set.
// qwen3 and gemma3 shapes add their per-head q/k norms (and gemma3's post-norms and window).
// Test shapes (tiny-*) are written by tests/golden/models_nlc_reference_test.cpp and compared
// with references made from the same bytes: changing what the writer emits for them means
// remaking those references (docs/engine.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "engine/gguf/gguf.h"
#include "hearth/status.h"

namespace hearth::models {

struct SyntheticShape {
  std::string_view name;  // e.g. "qwen2.5-0.5b"
  std::string_view arch;  // general.architecture
  int64_t n_embd;
  int64_t n_layer;
  int64_t n_head;
  int64_t n_head_kv;
  int64_t n_ff;
  int64_t n_vocab;
  int64_t n_ctx_train;
  float rope_freq_base;
  float rms_eps;
  int64_t n_rot;  // 0: the whole head
  bool qkv_bias;
  bool long_rope;  // phi3-style LongRoPE factor tensors
  bool llama3_rope_freqs;
  int64_t rope_orig_ctx;
  // Which fixture vocabulary fits: a models/ or tokenizer/ file name under the fixtures.
  std::string_view vocab_fixture;
  // Encoders (arch "bert", "nomic-bert"): GGUF pooling_type (1 mean, 2 CLS). rms_eps is then
  // the LayerNorm epsilon; of the RoPE fields only nomic-bert's rope_freq_base is used.
  int pooling_type = 0;
  // Decoders whose head size is not n_embd / n_head (qwen3, gemma3): written as
  // attention.key_length / value_length. 0: n_embd / n_head.
  int64_t head_dim = 0;
  // gemma3: attention.sliding_window of its local layers.
  int64_t sliding_window = 0;
  // qwen3moe: experts per layer, experts per token, and each expert's FFN width (the router
  // is written in F32, as quantizers leave it).
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  int64_t n_ff_exp = 0;
};

std::span<const SyntheticShape> synthetic_shapes();
const SyntheticShape* find_synthetic_shape(std::string_view name);

// Mixes: "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k" (every matrix Q6_K; rows not a
// multiple of 256 in Q8_0).
bool is_synthetic_mix(std::string_view mix);

// Writes the model to `path` (atomically). `vocab` supplies the tokenizer metadata.
Status write_synthetic_model(const SyntheticShape& shape, std::string_view mix,
                             const gguf::File& vocab, const std::filesystem::path& path,
                             uint64_t seed = 1);

}  // namespace hearth::models
