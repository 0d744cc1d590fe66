// Load-time rewrite of Q8_0, Q4_0, Q5_0, Q4_K and Q6_K matrices into the interleaved layout (see
// kernels/interleave_layout.h for why the kernels want it).
#include <algorithm>
#include <vector>

#include "engine/kernels/interleave_layout.h"
#include "engine/models/model_weights.h"
#include "engine/platform/memory.h"
#include "engine/platform/thread.h"
#include "engine/tensor/huge_page_buffer.h"

namespace hearth::models {
namespace {

// Every matrix of the model once (a tied output is the embedding itself).
std::vector<WeightMatrix*> all_matrices(ModelWeights& w) {
  std::vector<WeightMatrix*> out = {&w.token_embd};
  if (!w.tied_output) out.push_back(&w.output);
  for (LayerWeights& layer : w.layers) {
    for (WeightMatrix* m : {&layer.wq, &layer.wk, &layer.wv, &layer.wqkv, &layer.wo, &layer.w_gate,
                            &layer.w_up, &layer.w_down, &layer.ffn_gate_inp}) {
      out.push_back(m);
    }
    for (auto* experts : {&layer.gate_exps, &layer.up_exps, &layer.down_exps}) {
      for (WeightMatrix& m : *experts) out.push_back(&m);
    }
  }
  return out;
}

// A matrix's bytes, rounded up so that the next one starts on a 64-byte line.
int64_t matrix_bytes(const WeightMatrix& m) {
  return (interleaved_bytes(m.type, m.rows, m.cols) + 63) / 64 * 64;
}

}  // namespace

int64_t repack_weights(ModelWeights& w, const KernelTable& kernels) {
  if (!kernels.interleaved_weights) return 0;
  std::vector<WeightMatrix*> chosen;
  int64_t total = 0;
  for (WeightMatrix* m : all_matrices(w)) {
    if (!m->data || m->layout != WeightLayout::kGguf ||
        !can_interleave(m->type, m->rows, m->cols)) {
      continue;
    }
    chosen.push_back(m);
    total += matrix_bytes(*m);
  }
  if (chosen.empty()) return 0;
  std::shared_ptr<HugePageBuffer> memory = HugePageBuffer::allocate(static_cast<size_t>(total));
  if (!memory) return 0;  // out of address space: keep decoding from the file's layout
  uint8_t* dst = memory->data();
  // Two threads halve the time to first token; more add little, since the copy is bound by
  // page faults and memory bandwidth.
  std::vector<std::pair<WeightMatrix*, uint8_t*>> jobs;
  for (WeightMatrix* m : chosen) {
    jobs.emplace_back(m, dst);
    dst += matrix_bytes(*m);
  }
  // A model loaded from memory owns its bytes, and dropping their pages would zero them.
  const bool release_source = w.source_file_backed;
  auto run = [&jobs, release_source](size_t first, size_t step) {
    for (size_t i = first; i < jobs.size(); i += step) {
      WeightMatrix& m = *jobs[i].first;
      interleave_rows(m.type, m.data, m.rows, m.cols, jobs[i].second);
      // The page cache keeps the file, but it no longer counts as this process's memory.
      if (release_source) {
        platform::release_file_pages(
            m.data, static_cast<size_t>(m.rows * row_bytes(traits(m.type), m.cols)));
      }
    }
  };
  if (auto helper = platform::Thread::start([&run] { run(1, 2); })) {
    run(0, 2);
    helper->join();
  } else {  // no second thread: the caller's does it all
    run(0, 1);
  }
  for (auto& [m, bytes] : jobs) {
    m->data = bytes;
    m->layout = WeightLayout::kInterleaved;
  }
  if (w.tied_output) w.output = w.token_embd;
  w.rewritten = std::move(memory);
  return total;
}

}  // namespace hearth::models
