// The forward pass: evaluates a batch of tokens against a model and a KV cache.
//
// `forward` appends the batch at the cache's current position (positions n_past ..
// n_past + n - 1), writes the batch's keys and values into the cache, advances it, and
// computes logits for the requested rows only. It dispatches on the architecture's family;
// each family lives in its own file (llama_family.cpp covers llama, qwen2, phi3, qwen3,
// qwen3moe, gemma3 and smollm3; moe_ffn.cpp has the routed experts).
// Several sequences (each with its own cache) can be evaluated in one pass: every weight
// matrix is then read once for all of their tokens, which is what makes serving several
// conversations at once cheaper than serving them in turn.
//
// Thread-safety: the weights are only read, so many forwards may run concurrently on one
// model as long as each has its own cache, scratch and pool.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "engine/models/kv_cache.h"
#include "engine/models/model_weights.h"
#include "engine/models/scratch_vector.h"
#include "hearth/status.h"

namespace hearth {
class ThreadPool;
}

namespace hearth::models {

// Activation buffers reused across calls so steady-state decoding does not allocate. The
// ScratchVector ones grow without being zeroed (scratch_vector.h): every pass writes each of
// their elements before reading it.
struct ForwardScratch {
  ScratchVector<float> x;   // residual stream, n x n_embd
  ScratchVector<float> xn;  // normalized input of the current block
  ScratchVector<float> q;   // n x q_dim
  ScratchVector<float> k;   // n x kv_dim, before they are copied into the caches
  ScratchVector<float> v;
  ScratchVector<float> qkv;         // fused projection output
  ScratchVector<float> attn;        // attention output before wo, n x q_dim
  std::vector<float> attn_partial;  // per-chunk softmax state and sums of the attention
  ScratchVector<float> proj;        // output of wo / w_down, n x n_embd
  ScratchVector<float> gate;        // n x n_ff (or n x 2 n_ff when fused)
  ScratchVector<float> up;          // n x n_ff
  std::vector<float> rope_cos;      // n x n_rot/2
  std::vector<float> rope_sin;
  std::vector<float> rope_cos_swa;  // the same for local layers with their own base (gemma3)
  std::vector<float> rope_sin_swa;
  ScratchVector<float> out_norm;  // normalized rows that produce logits
  ScratchVector<float> logits;    // logits of several sequences before they are handed out
  std::vector<int32_t> row_seq;   // sequence of each row of the batch
  std::vector<int64_t> row_pos;   // absolute position of each row
  // Mixture of experts (moe_ffn): router scores, each row's chosen experts and weights, the
  // rows grouped by expert, and the gathered inputs and outputs of one expert.
  std::vector<float> router;           // n x n_expert
  std::vector<int32_t> chosen_expert;  // n x n_expert_used
  std::vector<float> chosen_weight;    // n x n_expert_used
  std::vector<int64_t> expert_start;   // n_expert + 1 offsets into expert_slots
  std::vector<int64_t> expert_slots;   // indices into chosen_*, grouped by expert
  std::vector<int64_t> expert_next;    // fill positions while grouping
  std::vector<int32_t> route_order;    // experts of one row, best first
  std::vector<float> expert_in;        // rows routed to one expert, m x n_embd
  std::vector<float> expert_gate;      // m x n_ff_exp
  std::vector<float> expert_up;        // m x n_ff_exp
  std::vector<float> expert_out;       // m x n_embd
};

struct ForwardBatch {
  std::span<const int32_t> tokens;
  // Indices into `tokens` whose logits are wanted, ascending; may be empty.
  std::span<const int32_t> output_rows;
  // output_rows.size() x n_vocab floats. May be null in a single-sequence pass that only
  // wants `embeddings`; then the vocabulary projection is skipped.
  float* logits = nullptr;
  // When set: output_rows.size() x n_embd floats, the final hidden states of the output rows
  // after the output norm.
  float* embeddings = nullptr;
  // Context size of the session; selects LongRoPE factors.
  int64_t n_ctx = 0;
};

// Preconditions (checked by the caller, the Session): tokens non-empty and each in
// [0, n_vocab); cache.n_past() + tokens.size() <= cache.capacity().
Status forward(const ModelWeights& weights, KvCache& cache, ForwardScratch& scratch,
               const ForwardBatch& batch, ThreadPool* pool);

// One sequence of a multi-sequence pass: its cache and its part of the batch.
struct SequenceBatch {
  KvCache* cache = nullptr;
  ForwardBatch batch;
};

// Evaluates all sequences in one pass. Same preconditions per sequence; the caches must be
// distinct. Embedding-only models (encoders) are an Error here; they go through `encode`.
Status forward(const ModelWeights& weights, std::span<const SequenceBatch> sequences,
               ForwardScratch& scratch, ThreadPool* pool);

// Encoder-only models (ArchSpec::embedding_only, bert_family.cpp): evaluates `tokens` as one
// whole sequence, every token attending to every other, and writes the n_embd floats of its
// pooled final states (per hp.pooling, not normalized) to `pooled`. Uses no cache. Errors:
// not an encoder, no tokens, more tokens than the trained context (n_ctx_train). Tokens must be
// in [0, n_vocab) (checked by the caller, the Session).
Status encode(const ModelWeights& weights, std::span<const int32_t> tokens, ForwardScratch& scratch,
              float* pooled, ThreadPool* pool);

// The routed-experts FFN of a layer with experts (ArchSpec::moe): for each of the n rows of
// `xn` (already normalized), softmax over the router's scores, keep the n_expert_used best
// experts, renormalize their probabilities to sum to 1, and write the weighted sum of those
// experts' SwiGLU FFNs to `out` (n x n_embd). Each expert runs once on all the rows routed to it.
void moe_ffn(const HyperParams& hp, const LayerWeights& layer, const float* xn, int64_t n,
             float* out, ForwardScratch& s, ThreadPool* pool);

// The q, k and v projections of `n` rows of `x` (hidden states, already normalized) into
// s.q, s.k and s.v, from a fused qkv matrix or three separate ones; biases not yet added.
void project_qkv(const HyperParams& hp, const LayerWeights& layer, const float* x, int64_t n,
                 ForwardScratch& s, ThreadPool* pool);

}  // namespace hearth::models
