// What one generated token reads of a model's weights: the figure `hearth bench --bound` sets
// against the measured memory bandwidth.
//
// Decoding one token runs every matrix once, except in a mixture of experts, where each
// layer's router picks n_expert_used of its n_expert experts and only their slices of the
// stacked ffn_*_exps tensors are read. Counting the whole file there would overstate what a
// token reads (by ~8x for Qwen3-30B-A3B). Plain function; thread-safe.
#pragma once

#include <cstdint>
#include <span>

#include "engine/gguf/gguf.h"

namespace hearth::models {

// Bytes of tensor data one token's decode reads: every tensor in full, except the stacked
// expert tensors, of which n_expert_used / n_expert. n_expert <= 0 (a dense model) counts
// every tensor in full. Metadata (the vocabulary) is not counted: decoding does not read it.
uint64_t weight_bytes_per_token(std::span<const gguf::TensorInfo> tensors, int64_t n_expert,
                                int64_t n_expert_used);

}  // namespace hearth::models
