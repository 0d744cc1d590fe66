#include "engine/models/arch_table.h"

#include <array>

namespace hearth::models {
namespace {

constexpr std::array kArchitectures = {
    ArchSpec{
        .name = "llama",
        .family = Family::kLlama,
        .rope_style = RopeStyle::kAdjacentPairs,
        .fused_qkv = Presence::kAbsent,
        // Some llama-architecture fine-tunes (e.g. with attention_bias=true) carry biases.
        .qkv_bias = Presence::kOptional,
        .output_bias = Presence::kOptional,
        .fused_gate_up = false,
        .may_tie_output = true,
        .long_rope_factors = false,
        .sliding_window = false,
    },
    ArchSpec{
        .name = "qwen2",
        .family = Family::kLlama,
        .rope_style = RopeStyle::kNeoxHalves,
        .fused_qkv = Presence::kAbsent,
        .qkv_bias = Presence::kRequired,
        .output_bias = Presence::kAbsent,
        .fused_gate_up = false,
        .may_tie_output = true,
        .long_rope_factors = false,
        .sliding_window = false,
    },
    ArchSpec{
        .name = "phi3",
        .family = Family::kLlama,
        .rope_style = RopeStyle::kNeoxHalves,
        // Phi-3/3.5/4-mini ship fused qkv; some conversions split it.
        .fused_qkv = Presence::kOptional,
        .qkv_bias = Presence::kOptional,
        .output_bias = Presence::kOptional,
        .fused_gate_up = true,
        // Phi-4-mini ties its output to the embedding; Phi-3 does not.
        .may_tie_output = true,
        .long_rope_factors = true,
        .sliding_window = true,
    },
    // Qwen3 dense: qwen2 without biases, with per-head q/k RMSNorms; its head size
    // (attention.key_length, 128) is not n_embd / n_head.
    ArchSpec{
        .name = "qwen3",
        .family = Family::kLlama,
        .rope_style = RopeStyle::kNeoxHalves,
        .fused_qkv = Presence::kAbsent,
        .qkv_bias = Presence::kAbsent,
        .output_bias = Presence::kAbsent,
        .fused_gate_up = false,
        .may_tie_output = true,  // 0.6B-4B tie, 8B does not
        .long_rope_factors = false,
        .sliding_window = false,
        .qk_norm = true,
    },
    // Qwen3 MoE (30B-A3B, 235B-A22B): qwen3's attention, routed experts instead of the FFN.
    ArchSpec{
        .name = "qwen3moe",
        .family = Family::kLlama,
        .rope_style = RopeStyle::kNeoxHalves,
        .fused_qkv = Presence::kAbsent,
        .qkv_bias = Presence::kAbsent,
        .output_bias = Presence::kAbsent,
        .fused_gate_up = false,
        .may_tie_output = true,
        .long_rope_factors = false,
        .sliding_window = false,
        .qk_norm = true,
        .moe = true,
    },
    // Gemma 3 text models (270M, 1B, and the language part of 4B+): scaled embedding, q/k
    // norms, sandwich norms, GeGLU, and 5 sliding-window layers per global one. The RMSNorm
    // weights are used as stored: the GGUF converter already folded Gemma's (1 + w) into them.
    ArchSpec{
        .name = "gemma3",
        .family = Family::kLlama,
        .rope_style = RopeStyle::kNeoxHalves,
        .fused_qkv = Presence::kAbsent,
        .qkv_bias = Presence::kAbsent,
        .output_bias = Presence::kAbsent,
        .fused_gate_up = false,
        .may_tie_output = true,
        .long_rope_factors = false,
        .sliding_window = true,
        .qk_norm = true,
        .post_norms = true,
        .scale_embedding = true,
        .ffn_activation = FfnActivation::kGeluTanh,
        .swa_period = 6,
        .swa_rope_base = 10000.0f,
    },
    // SmolLM3: llama with every fourth layer left without RoPE (content-only attention there).
    ArchSpec{
        .name = "smollm3",
        .family = Family::kLlama,
        .rope_style = RopeStyle::kAdjacentPairs,
        .fused_qkv = Presence::kAbsent,
        .qkv_bias = Presence::kOptional,
        .output_bias = Presence::kOptional,
        .fused_gate_up = false,
        .may_tie_output = true,  // SmolLM3-3B ties its output to the embedding
        .long_rope_factors = false,
        .sliding_window = false,
        .nope_period = 4,
    },
    // bge, all-MiniLM, e5, mxbai-embed, as llama.cpp's converter writes them.
    ArchSpec{
        .name = "bert",
        .family = Family::kBert,
        .rope_style = RopeStyle::kAdjacentPairs,  // unused: positions are learned
        .fused_qkv = Presence::kAbsent,
        .qkv_bias = Presence::kRequired,
        .output_bias = Presence::kRequired,
        .fused_gate_up = false,
        .may_tie_output = false,
        .long_rope_factors = false,
        .sliding_window = false,
        .embedding_only = true,
        .learned_positions = true,
        .gated_ffn = false,
        .ffn_bias = Presence::kRequired,
    },
    // nomic-embed-text v1/v1.5: rotary positions, fused qkv, SwiGLU, no projection biases.
    ArchSpec{
        .name = "nomic-bert",
        .family = Family::kBert,
        .rope_style = RopeStyle::kNeoxHalves,
        .fused_qkv = Presence::kRequired,
        .qkv_bias = Presence::kOptional,
        .output_bias = Presence::kOptional,
        .fused_gate_up = false,
        .may_tie_output = false,
        .long_rope_factors = false,
        .sliding_window = false,
        .embedding_only = true,
        .learned_positions = false,
        .gated_ffn = true,
        .ffn_bias = Presence::kOptional,
    },
};

}  // namespace

std::span<const ArchSpec> arch_table() {
  return kArchitectures;
}

const ArchSpec* find_arch(std::string_view name) {
  for (const auto& spec : kArchitectures) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace hearth::models
