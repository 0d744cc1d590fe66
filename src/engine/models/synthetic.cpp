#include "engine/models/synthetic.h"

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "engine/tensor/quant.h"

namespace hearth::models {
namespace {

constexpr std::array kShapes = {
    SyntheticShape{"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 4864, 151669, 32768, 1000000.0f, 1e-6f,
                   0, true, false, false, 0, "models/tiny-qwen2-q8_0.gguf"},
    SyntheticShape{"qwen2.5-1.5b", "qwen2", 1536, 28, 12, 2, 8960, 151669, 32768, 1000000.0f, 1e-6f,
                   0, true, false, false, 0, "models/tiny-qwen2-q8_0.gguf"},
    // Qwen2.5-7B: GQA 28/4, head 128, 152064-entry padded vocabulary (the fixture's 151669
    // tokens plus padding), q/k/v biases.
    SyntheticShape{"qwen2.5-7b", "qwen2", 3584, 28, 28, 4, 18944, 152064, 32768, 1000000.0f, 1e-6f,
                   0, true, false, false, 0, "models/tiny-qwen2-q8_0.gguf"},
    SyntheticShape{"llama-3.2-1b", "llama", 2048, 16, 32, 8, 8192, 128256, 131072, 500000.0f, 1e-5f,
                   0, false, false, true, 8192, "models/tiny-llama3-q8_0.gguf"},
    SyntheticShape{"phi-4-mini", "phi3", 3072, 32, 24, 8, 8192, 200064, 131072, 10000.0f, 1e-5f, 96,
                   false, true, false, 4096, "models/tiny-llama3-q8_0.gguf"},
    // Qwen3: head size 128 from key_length (not n_embd / n_head), q/k norms, no biases.
    SyntheticShape{"qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 3072, 151936, 40960, 1000000.0f, 1e-6f,
                   0, false, false, false, 0, "models/tiny-qwen3-f16.gguf", 0, 128},
    SyntheticShape{"qwen3-4b", "qwen3", 2560, 36, 32, 8, 9728, 151936, 40960, 1000000.0f, 1e-6f, 0,
                   false, false, false, 0, "models/tiny-qwen3-f16.gguf", 0, 128},
    // Qwen3-30B-A3B: qwen3's attention (head 128, GQA 32/4) and 128 experts of width 768, 8
    // per token; about 3B of its 30B parameters are read per token.
    SyntheticShape{.name = "qwen3-30b-a3b",
                   .arch = "qwen3moe",
                   .n_embd = 2048,
                   .n_layer = 48,
                   .n_head = 32,
                   .n_head_kv = 4,
                   .n_ff = 6144,
                   .n_vocab = 151936,
                   .n_ctx_train = 40960,
                   .rope_freq_base = 1000000.0f,
                   .rms_eps = 1e-6f,
                   .vocab_fixture = "models/tiny-qwen3-f16.gguf",
                   .head_dim = 128,
                   .n_expert = 128,
                   .n_expert_used = 8,
                   .n_ff_exp = 768},
    // Test shape (tests/golden/reference): 8 experts, 2 per token, so a 29-token text routes to
    // most of them.
    SyntheticShape{.name = "tiny-qwen3moe",
                   .arch = "qwen3moe",
                   .n_embd = 128,
                   .n_layer = 2,
                   .n_head = 4,
                   .n_head_kv = 2,
                   .n_ff = 256,
                   .n_vocab = 151669,
                   .n_ctx_train = 40960,
                   .rope_freq_base = 1000000.0f,
                   .rms_eps = 1e-6f,
                   .vocab_fixture = "models/tiny-qwen3-f16.gguf",
                   .head_dim = 32,
                   .n_expert = 8,
                   .n_expert_used = 2,
                   .n_ff_exp = 64},
    // Gemma 3 1B: head size 256, one KV head, 5 local (window 512) : 1 global layers. The
    // vocabulary is the fixture's 262145 tokens (the released file has 262144).
    SyntheticShape{"gemma3-1b",
                   "gemma3",
                   1152,
                   26,
                   4,
                   1,
                   6912,
                   262145,
                   32768,
                   1000000.0f,
                   1e-6f,
                   0,
                   false,
                   false,
                   false,
                   0,
                   "models/tiny-gemma3-f16.gguf",
                   0,
                   256,
                   512},
    // Mistral 7B (v0.2/v0.3): llama with GQA 32/8 and rope base 1e6; v0.3's 32768-token
    // SentencePiece vocabulary (the Llama-2 fixture padded with control tokens).
    SyntheticShape{.name = "mistral-7b",
                   .arch = "llama",
                   .n_embd = 4096,
                   .n_layer = 32,
                   .n_head = 32,
                   .n_head_kv = 8,
                   .n_ff = 14336,
                   .n_vocab = 32768,
                   .n_ctx_train = 32768,
                   .rope_freq_base = 1000000.0f,
                   .rms_eps = 1e-5f,
                   .vocab_fixture = "models/tiny-llama-spm-f16.gguf"},
    // Test shape (tests/golden/reference): Mistral's metadata on a small llama, including the
    // llama.attention.sliding_window key older Mistral conversions may carry, set below the
    // teacher text's length: the llama architecture ignores it, as llama.cpp does.
    SyntheticShape{.name = "tiny-mistral",
                   .arch = "llama",
                   .n_embd = 256,
                   .n_layer = 2,
                   .n_head = 8,
                   .n_head_kv = 2,
                   .n_ff = 512,
                   .n_vocab = 32768,
                   .n_ctx_train = 32768,
                   .rope_freq_base = 1000000.0f,
                   .rms_eps = 1e-5f,
                   .vocab_fixture = "models/tiny-llama-spm-f16.gguf",
                   .sliding_window = 8},
    // SmolLM3-3B: llama-like, every fourth layer without RoPE, tied output, Llama-3 vocabulary.
    SyntheticShape{.name = "smollm3-3b",
                   .arch = "smollm3",
                   .n_embd = 2048,
                   .n_layer = 36,
                   .n_head = 16,
                   .n_head_kv = 4,
                   .n_ff = 11008,
                   .n_vocab = 128256,
                   .n_ctx_train = 65536,
                   .rope_freq_base = 5000000.0f,
                   .rms_eps = 1e-6f,
                   .vocab_fixture = "models/tiny-llama3-q8_0.gguf"},
    // Test shape (tests/golden/reference): 8 layers, so layers 3 and 7 go without RoPE.
    SyntheticShape{.name = "tiny-smollm3",
                   .arch = "smollm3",
                   .n_embd = 128,
                   .n_layer = 8,
                   .n_head = 4,
                   .n_head_kv = 2,
                   .n_ff = 384,
                   .n_vocab = 128256,
                   .n_ctx_train = 65536,
                   .rope_freq_base = 5000000.0f,
                   .rms_eps = 1e-6f,
                   .vocab_fixture = "models/tiny-llama3-q8_0.gguf"},
    SyntheticShape{"bge-small-en-v1.5", "bert", 384, 12, 12, 12, 1536, 30522, 512, 0.0f, 1e-12f, 0,
                   true, false, false, 0, "tokenizer/ggml-vocab-bert-bge.gguf", 2},
    SyntheticShape{"bge-base-en-v1.5", "bert", 768, 12, 12, 12, 3072, 30522, 512, 0.0f, 1e-12f, 0,
                   true, false, false, 0, "tokenizer/ggml-vocab-bert-bge.gguf", 2},
    SyntheticShape{"all-minilm-l6-v2", "bert", 384, 6, 12, 12, 1536, 30522, 512, 0.0f, 1e-12f, 0,
                   true, false, false, 0, "tokenizer/ggml-vocab-bert-bge.gguf", 1},
    SyntheticShape{"nomic-embed-text-v1.5", "nomic-bert", 768, 12, 12, 12, 3072, 30522, 2048,
                   1000.0f, 1e-12f, 0, false, false, false, 0, "tokenizer/ggml-vocab-bert-bge.gguf",
                   1},
};

// splitmix64: fast, seedable, and good enough for benchmark weights.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1).
  float uniform() {
    return static_cast<float>(static_cast<double>(next() >> 11) * 0x1.0p-52 - 1.0);
  }
};

uint64_t hash(std::string_view s, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL ^ seed;
  for (char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h;
}

// The K-quant formats need rows that are whole 256-element super-blocks; other rows take the
// nearest legacy format, as common quantizers do.
TensorType fit_row(TensorType type, int64_t cols) {
  if (cols % 256 == 0) return type;
  switch (type) {
    case TensorType::Q4_K: return TensorType::Q5_0;
    case TensorType::Q5_K: return TensorType::Q5_1;
    case TensorType::Q6_K: return TensorType::Q8_0;
    default: return type;
  }
}

// Layers that get more bits in the _M mixes: the first and last eighth, and every third
// layer between.
bool more_bits(int64_t layer, int64_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

enum class Role { kEmbedding, kAttnV, kFfnDown, kOther };

TensorType pick_type(std::string_view mix, Role role, int64_t layer, int64_t n_layer,
                     int64_t cols) {
  TensorType t = TensorType::F16;
  if (mix == "f16") {
    t = TensorType::F16;
  } else if (mix == "bf16") {
    t = TensorType::BF16;
  } else if (mix == "q8_0") {
    t = TensorType::Q8_0;
  } else if (mix == "q4_0") {
    t = role == Role::kEmbedding ? TensorType::Q6_K : TensorType::Q4_0;
  } else if (mix == "q6_k") {
    t = TensorType::Q6_K;
  } else {  // q4_k_m / q5_k_m
    const TensorType base = mix == "q5_k_m" ? TensorType::Q5_K : TensorType::Q4_K;
    if (role == Role::kEmbedding) {
      t = TensorType::Q6_K;
    } else if ((role == Role::kAttnV || role == Role::kFfnDown) && more_bits(layer, n_layer)) {
      t = TensorType::Q6_K;
    } else {
      t = base;
    }
  }
  return fit_row(t, cols);
}

uint32_t file_type_code(std::string_view mix) {
  if (mix == "f16") return 1;
  if (mix == "bf16") return 32;
  if (mix == "q8_0") return 7;
  if (mix == "q4_0") return 2;
  if (mix == "q4_k_m") return 15;
  if (mix == "q6_k") return 18;
  return 17;  // q5_k_m
}

// Random rows of a weight matrix, quantized to `type`. Scale 1/sqrt(cols) keeps activations
// in a realistic range through the layers.
gguf::Writer::TensorFiller random_matrix(TensorType type, int64_t cols, int64_t rows,
                                         uint64_t seed) {
  return [=](std::span<uint8_t> out) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(cols));
    const int64_t row_size = row_bytes(traits(type), cols);
    std::vector<float> row(static_cast<size_t>(cols));
    Rng rng{seed};
    for (int64_t r = 0; r < rows; ++r) {
      for (auto& v : row) v = rng.uniform() * scale;
      quantize_row(type, row.data(), out.data() + r * row_size, cols);
    }
  };
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& values) {
  const auto* p = reinterpret_cast<const uint8_t*>(values.data());
  return {p, p + values.size() * sizeof(float)};
}

Status copy_vocabulary(const gguf::File& vocab, int64_t n_vocab, gguf::Writer& w) {
  auto tokens = vocab.get_string_array("tokenizer.ggml.tokens");
  if (!tokens) return std::unexpected(tokens.error());
  if (static_cast<int64_t>(tokens->size()) > n_vocab) {
    return fail("the vocabulary has more tokens than the shape's n_vocab");
  }
  for (const auto& [key, value] : vocab.metadata()) {
    if (key.rfind("tokenizer.", 0) != 0) continue;
    if (key == "tokenizer.ggml.tokens" || key == "tokenizer.ggml.scores" ||
        key == "tokenizer.ggml.token_type") {
      continue;
    }
    w.set_value(key, value);
  }
  // Pad to the shape's vocabulary with control tokens that never appear in text.
  std::vector<std::string> all(tokens->begin(), tokens->end());
  auto types = vocab.get_int_array("tokenizer.ggml.token_type");
  std::vector<int32_t> token_types;
  if (types) token_types.assign(types->begin(), types->end());
  token_types.resize(all.size(), 1);
  while (static_cast<int64_t>(all.size()) < n_vocab) {
    all.push_back("<|synthetic_pad_" + std::to_string(all.size()) + "|>");
    token_types.push_back(3);  // control
  }
  w.set_string_array("tokenizer.ggml.tokens", all);
  w.set_i32_array("tokenizer.ggml.token_type", token_types);
  if (auto scores = vocab.get_float_array("tokenizer.ggml.scores")) {
    scores->resize(all.size(), 0.0f);
    w.set_f32_array("tokenizer.ggml.scores", *scores);
  }
  return ok();
}

// The tensors of a BERT encoder: token types and post-norm LayerNorms with biases; bert has
// learned positions and biases on every projection, nomic-bert (RoPE) a fused qkv, a gated
// FFN and no projection biases.
Status add_encoder_tensors(const SyntheticShape& s, std::string_view mix, uint64_t seed,
                           gguf::Writer& w) {
  auto add_matrix = [&](const std::string& name, Role role, int64_t layer, int64_t cols,
                        int64_t rows) -> Status {
    const TensorType type = pick_type(mix, role, layer, s.n_layer, cols);
    const int64_t dims[] = {cols, rows};
    return w.add_tensor(name, type, dims, random_matrix(type, cols, rows, hash(name, seed)));
  };
  auto add_vector = [&](const std::string& name, int64_t n, float center, float spread) {
    std::vector<float> v(static_cast<size_t>(n));
    Rng rng{hash(name, seed)};
    for (auto& x : v) x = center + spread * rng.uniform();
    const int64_t dims[] = {n};
    return w.add_tensor(name, TensorType::F32, dims, f32_bytes(v));
  };
  // llama.cpp's converter and quantizer always keep these two in F32 (as they do 1-D tensors),
  // and its BERT graph adds the token-type row to the activations as is, so a file with them
  // in another type is one llama.cpp cannot run.
  auto add_f32_matrix = [&](const std::string& name, int64_t cols, int64_t rows) {
    const int64_t dims[] = {cols, rows};
    return w.add_tensor(name, TensorType::F32, dims,
                        random_matrix(TensorType::F32, cols, rows, hash(name, seed)));
  };
  const int64_t d = s.n_embd;
  const bool nomic = s.arch == "nomic-bert";
  Status st = add_matrix("token_embd.weight", Role::kEmbedding, 0, d, s.n_vocab);
  if (st && !nomic) st = add_f32_matrix("position_embd.weight", d, s.n_ctx_train);
  if (st) st = add_f32_matrix("token_types.weight", d, 2);
  if (st) st = add_vector("token_embd_norm.weight", d, 1.0f, 0.1f);
  if (st) st = add_vector("token_embd_norm.bias", d, 0.0f, 0.1f);
  for (int64_t l = 0; st && l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    if (nomic) {
      if (st) st = add_matrix(p + "attn_qkv.weight", Role::kOther, l, d, 3 * d);
      if (st) st = add_matrix(p + "attn_output.weight", Role::kOther, l, d, d);
    }
    for (const char* m : {"attn_q", "attn_k", "attn_v", "attn_output"}) {
      if (nomic) break;
      const std::string name = p + m;
      const Role role = name == p + "attn_v" ? Role::kAttnV : Role::kOther;
      if (st) st = add_matrix(name + ".weight", role, l, d, d);
      if (st) st = add_vector(name + ".bias", d, 0.0f, 0.1f);
    }
    if (st) st = add_vector(p + "attn_output_norm.weight", d, 1.0f, 0.1f);
    if (st) st = add_vector(p + "attn_output_norm.bias", d, 0.0f, 0.1f);
    if (st && nomic) st = add_matrix(p + "ffn_gate.weight", Role::kOther, l, d, s.n_ff);
    if (st) st = add_matrix(p + "ffn_up.weight", Role::kOther, l, d, s.n_ff);
    if (st && !nomic) st = add_vector(p + "ffn_up.bias", s.n_ff, 0.0f, 0.1f);
    if (st) st = add_matrix(p + "ffn_down.weight", Role::kFfnDown, l, s.n_ff, d);
    if (st && !nomic) st = add_vector(p + "ffn_down.bias", d, 0.0f, 0.1f);
    if (st) st = add_vector(p + "layer_output_norm.weight", d, 1.0f, 0.1f);
    if (st) st = add_vector(p + "layer_output_norm.bias", d, 0.0f, 0.1f);
  }
  return st;
}

}  // namespace

std::span<const SyntheticShape> synthetic_shapes() {
  return kShapes;
}

const SyntheticShape* find_synthetic_shape(std::string_view name) {
  for (const auto& s : kShapes) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

bool is_synthetic_mix(std::string_view mix) {
  return mix == "f16" || mix == "bf16" || mix == "q8_0" || mix == "q4_0" || mix == "q4_k_m" ||
         mix == "q5_k_m" || mix == "q6_k";
}

Status write_synthetic_model(const SyntheticShape& s, std::string_view mix, const gguf::File& vocab,
                             const std::filesystem::path& path, uint64_t seed) {
  if (!is_synthetic_mix(mix)) return fail("unknown quantization mix '" + std::string(mix) + "'");
  gguf::Writer w;
  const std::string a(s.arch);
  w.set_string("general.architecture", a);
  w.set_string("general.name", std::string(s.name) + " (synthetic " + std::string(mix) + ")");
  w.set_u32("general.file_type", file_type_code(mix));
  w.set_u32("general.quantization_version", 2);
  w.set_u32(a + ".context_length", static_cast<uint32_t>(s.n_ctx_train));
  w.set_u32(a + ".embedding_length", static_cast<uint32_t>(s.n_embd));
  w.set_u32(a + ".block_count", static_cast<uint32_t>(s.n_layer));
  w.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(s.n_ff));
  w.set_u32(a + ".attention.head_count", static_cast<uint32_t>(s.n_head));
  if (s.arch == "bert" || s.arch == "nomic-bert") {
    if (s.arch == "nomic-bert") w.set_f32(a + ".rope.freq_base", s.rope_freq_base);
    w.set_f32(a + ".attention.layer_norm_epsilon", s.rms_eps);
    w.set_bool(a + ".attention.causal", false);
    w.set_u32(a + ".pooling_type", static_cast<uint32_t>(s.pooling_type));
    if (auto st = copy_vocabulary(vocab, s.n_vocab, w); !st) return st;
    if (auto st = add_encoder_tensors(s, mix, seed, w); !st) return st;
    return w.write(path);
  }
  w.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(s.n_head_kv));
  w.set_f32(a + ".attention.layer_norm_rms_epsilon", s.rms_eps);
  w.set_f32(a + ".rope.freq_base", s.rope_freq_base);
  const int64_t head_dim = s.head_dim > 0 ? s.head_dim : s.n_embd / s.n_head;
  const int64_t n_rot = s.n_rot > 0 ? s.n_rot : head_dim;
  if (s.head_dim > 0) {
    w.set_u32(a + ".attention.key_length", static_cast<uint32_t>(head_dim));
    w.set_u32(a + ".attention.value_length", static_cast<uint32_t>(head_dim));
  }
  if (s.sliding_window > 0) {
    w.set_u32(a + ".attention.sliding_window", static_cast<uint32_t>(s.sliding_window));
  }
  const bool qk_norm = s.arch == "qwen3" || s.arch == "qwen3moe" || s.arch == "gemma3";
  const bool moe = s.n_expert > 0;
  if (moe) {
    w.set_u32(a + ".expert_count", static_cast<uint32_t>(s.n_expert));
    w.set_u32(a + ".expert_used_count", static_cast<uint32_t>(s.n_expert_used));
    w.set_u32(a + ".expert_feed_forward_length", static_cast<uint32_t>(s.n_ff_exp));
  }
  const bool post_norms = s.arch == "gemma3";
  if (s.n_rot > 0) w.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(n_rot));
  if (s.rope_orig_ctx > 0) {
    w.set_u32(a + ".rope.scaling.original_context_length", static_cast<uint32_t>(s.rope_orig_ctx));
  }
  if (auto st = copy_vocabulary(vocab, s.n_vocab, w); !st) return st;

  auto add_matrix = [&](const std::string& name, Role role, int64_t layer, int64_t cols,
                        int64_t rows) -> Status {
    const TensorType type = pick_type(mix, role, layer, s.n_layer, cols);
    const int64_t dims[] = {cols, rows};
    return w.add_tensor(name, type, dims, random_matrix(type, cols, rows, hash(name, seed)));
  };
  // n_expert matrices of rows x cols stacked into one 3-D tensor.
  auto add_experts = [&](const std::string& name, Role role, int64_t layer, int64_t cols,
                         int64_t rows) -> Status {
    const TensorType type = pick_type(mix, role, layer, s.n_layer, cols);
    const int64_t dims[] = {cols, rows, s.n_expert};
    return w.add_tensor(name, type, dims,
                        random_matrix(type, cols, rows * s.n_expert, hash(name, seed)));
  };
  auto add_vector = [&](const std::string& name, std::vector<float> values) -> Status {
    const int64_t dims[] = {static_cast<int64_t>(values.size())};
    return w.add_tensor(name, TensorType::F32, dims, f32_bytes(values));
  };
  auto random_vector = [&](const std::string& name, int64_t n, float center, float spread) {
    std::vector<float> v(static_cast<size_t>(n));
    Rng rng{hash(name, seed)};
    for (auto& x : v) x = center + spread * rng.uniform();
    return v;
  };

  Status st = add_matrix("token_embd.weight", Role::kEmbedding, 0, s.n_embd, s.n_vocab);
  if (st) st = add_vector("output_norm.weight", random_vector("output_norm", s.n_embd, 1.0f, 0.1f));
  if (st && s.llama3_rope_freqs) {
    st = add_vector("rope_freqs.weight", random_vector("rope_freqs", n_rot / 2, 4.0f, 3.0f));
  }
  if (st && s.long_rope) {
    st = add_vector("rope_factors_long.weight", random_vector("long", n_rot / 2, 10.0f, 9.0f));
    if (st)
      st = add_vector("rope_factors_short.weight", random_vector("short", n_rot / 2, 1.5f, 0.5f));
  }
  const int64_t q_dim = s.n_head * head_dim;
  const int64_t kv_dim = s.n_head_kv * head_dim;
  const bool fused = s.arch == "phi3";
  for (int64_t l = 0; st && l < s.n_layer; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    st = add_vector(p + "attn_norm.weight", random_vector(p + "an", s.n_embd, 1.0f, 0.1f));
    if (st && fused)
      st = add_matrix(p + "attn_qkv.weight", Role::kOther, l, s.n_embd, q_dim + 2 * kv_dim);
    if (st && !fused) st = add_matrix(p + "attn_q.weight", Role::kOther, l, s.n_embd, q_dim);
    if (st && !fused) st = add_matrix(p + "attn_k.weight", Role::kOther, l, s.n_embd, kv_dim);
    if (st && !fused) st = add_matrix(p + "attn_v.weight", Role::kAttnV, l, s.n_embd, kv_dim);
    if (st && s.qkv_bias) {
      st = add_vector(p + "attn_q.bias", random_vector(p + "bq", q_dim, 0.0f, 0.1f));
      if (st) st = add_vector(p + "attn_k.bias", random_vector(p + "bk", kv_dim, 0.0f, 0.1f));
      if (st) st = add_vector(p + "attn_v.bias", random_vector(p + "bv", kv_dim, 0.0f, 0.1f));
    }
    if (st && qk_norm) {
      st = add_vector(p + "attn_q_norm.weight", random_vector(p + "qn", head_dim, 1.0f, 0.1f));
      if (st)
        st = add_vector(p + "attn_k_norm.weight", random_vector(p + "kn", head_dim, 1.0f, 0.1f));
    }
    if (st) st = add_matrix(p + "attn_output.weight", Role::kOther, l, q_dim, s.n_embd);
    if (st && post_norms) {
      st = add_vector(p + "post_attention_norm.weight",
                      random_vector(p + "pan", s.n_embd, 1.0f, 0.1f));
      if (st)
        st = add_vector(p + "post_ffw_norm.weight", random_vector(p + "pfn", s.n_embd, 1.0f, 0.1f));
    }
    if (st) st = add_vector(p + "ffn_norm.weight", random_vector(p + "fn", s.n_embd, 1.0f, 0.1f));
    if (st && moe) {
      const std::string router = p + "ffn_gate_inp.weight";
      const int64_t dims[] = {s.n_embd, s.n_expert};
      st = w.add_tensor(router, TensorType::F32, dims,
                        random_matrix(TensorType::F32, s.n_embd, s.n_expert, hash(router, seed)));
      if (st) st = add_experts(p + "ffn_gate_exps.weight", Role::kOther, l, s.n_embd, s.n_ff_exp);
      if (st) st = add_experts(p + "ffn_up_exps.weight", Role::kOther, l, s.n_embd, s.n_ff_exp);
      if (st) st = add_experts(p + "ffn_down_exps.weight", Role::kFfnDown, l, s.n_ff_exp, s.n_embd);
      continue;
    }
    if (st && fused) st = add_matrix(p + "ffn_up.weight", Role::kOther, l, s.n_embd, 2 * s.n_ff);
    if (st && !fused) st = add_matrix(p + "ffn_gate.weight", Role::kOther, l, s.n_embd, s.n_ff);
    if (st && !fused) st = add_matrix(p + "ffn_up.weight", Role::kOther, l, s.n_embd, s.n_ff);
    if (st) st = add_matrix(p + "ffn_down.weight", Role::kFfnDown, l, s.n_ff, s.n_embd);
  }
  if (!st) return st;
  return w.write(path);
}

}  // namespace hearth::models
