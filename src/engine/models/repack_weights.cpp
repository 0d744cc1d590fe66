// Load-time rewrite of Q8_0, Q4_0, Q5_0, Q4_K and Q6_K matrices into the interleaved layout (see
// kernels/interleave_layout.h for why the kernels want it).
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <thread>
#include <vector>

#include "engine/kernels/interleave_layout.h"
#include "engine/models/model_weights.h"
#include "engine/tensor/huge_page_buffer.h"

namespace hearth::models {
namespace {

// Every matrix of the model once (a tied output is the embedding itself).
std::vector<WeightMatrix*> all_matrices(ModelWeights& w) {
  std::vector<WeightMatrix*> out = {&w.token_embd};
  if (!w.tied_output) out.push_back(&w.output);
  for (LayerWeights& layer : w.layers) {
    for (WeightMatrix* m : {&layer.wq, &layer.wk, &layer.wv, &layer.wqkv, &layer.wo, &layer.w_gate,
                            &layer.w_up, &layer.w_down}) {
      out.push_back(m);
    }
  }
  return out;
}

// A matrix's bytes, rounded up so that the next one starts on a 64-byte line.
int64_t matrix_bytes(const WeightMatrix& m) {
  return (interleaved_bytes(m.type, m.rows, m.cols) + 63) / 64 * 64;
}

// Drops the process's mapping of the whole pages inside [begin, begin + size): the page
// cache keeps the file, but it no longer counts as this process's resident memory.
void release_pages(const void* begin, int64_t size) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto start = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const auto end =
      (reinterpret_cast<uintptr_t>(begin) + static_cast<uintptr_t>(size)) / page * page;
  if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
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
  auto run = [&jobs](size_t first, size_t step) {
    for (size_t i = first; i < jobs.size(); i += step) {
      WeightMatrix& m = *jobs[i].first;
      interleave_rows(m.type, m.data, m.rows, m.cols, jobs[i].second);
      release_pages(m.data, m.rows * row_bytes(traits(m.type), m.cols));
    }
  };
  try {
    std::thread helper(run, 1, 2);
    run(0, 2);
    helper.join();
  } catch (const std::system_error&) {  // no second thread: the caller's does it all
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
