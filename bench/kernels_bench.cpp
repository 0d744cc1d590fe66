// Matmul throughput per weight type, shape, token count and thread count, at the kernel level
// chosen by HEARTH_KERNELS (default: the best this CPU has; printed in the context).
//
// Counters: weight_GB/s is the weight bytes streamed per second (the bound for one token),
// tok/s the activation rows processed per second.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/kernels/interleave_layout.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/matmul.h"
#include "engine/platform/thread_pool.h"
#include "engine/tensor/quant.h"

namespace {

using hearth::TensorType;

struct Shape {
  int64_t rows;
  int64_t cols;
};

void bench_matmul(benchmark::State& state, TensorType type, Shape shape, int64_t n_tokens,
                  int threads, hearth::WeightLayout layout) {
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  const int64_t stride = hearth::row_bytes(hearth::traits(type), shape.cols);
  std::vector<uint8_t> weights(static_cast<size_t>(shape.rows * stride));
  std::vector<float> row(static_cast<size_t>(shape.cols));
  for (int64_t r = 0; r < shape.rows; ++r) {
    for (auto& v : row) v = dist(rng);
    hearth::quantize_row(type, row.data(), weights.data() + r * stride, shape.cols);
  }
  std::vector<float> in(static_cast<size_t>(n_tokens * shape.cols));
  for (auto& v : in) v = dist(rng);
  std::vector<float> out(static_cast<size_t>(n_tokens * shape.rows));
  hearth::WeightMatrix w{type, weights.data(), shape.rows, shape.cols};
  // The layout the model loader gives Q8_0 / Q4_0 / Q4_K / Q6_K at the AVX-512 level.
  std::vector<uint8_t> rewritten;
  if (layout == hearth::WeightLayout::kInterleaved) {
    rewritten.resize(static_cast<size_t>(hearth::interleaved_bytes(type, shape.rows, shape.cols)));
    hearth::interleave_rows(type, weights.data(), shape.rows, shape.cols, rewritten.data());
    w.data = rewritten.data();
    w.layout = layout;
  }
  std::unique_ptr<hearth::ThreadPool> pool;
  if (threads > 1) pool = std::make_unique<hearth::ThreadPool>(threads);

  for (auto _ : state) {
    hearth::matmul(w, in.data(), n_tokens, out.data(), pool.get());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["weight_GB/s"] = benchmark::Counter(static_cast<double>(weights.size()) / 1e9,
                                                     benchmark::Counter::kIsIterationInvariantRate);
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(n_tokens),
                                               benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  const TensorType types[] = {TensorType::F32,  TensorType::F16,  TensorType::BF16,
                              TensorType::Q4_0, TensorType::Q4_1, TensorType::Q5_0,
                              TensorType::Q5_1, TensorType::Q8_0, TensorType::Q4_K,
                              TensorType::Q5_K, TensorType::Q6_K};
  // The last two do not fit in cache: an output head, and a matrix several times the
  // last-level cache in every format (65536 x 1024 Q4_K is 38 MB, which a 32 MB L3 partly
  // holds; 131072 x 1024 is 75 MB).
  const Shape shapes[] = {{896, 896}, {4864, 896}, {65536, 896}, {131072, 1024}};
  for (TensorType type : types) {
    for (Shape shape : shapes) {
      // K-quant rows hold whole 256-element super-blocks: widen 896 to 1024 for them.
      const int64_t block = hearth::traits(type).block_size;
      shape.cols = (shape.cols + block - 1) / block * block;
      using hearth::WeightLayout;
      for (WeightLayout layout : {WeightLayout::kGguf, WeightLayout::kInterleaved}) {
        if (layout == WeightLayout::kInterleaved &&
            !hearth::can_interleave(type, shape.rows, shape.cols)) {
          continue;
        }
        const char* suffix = layout == WeightLayout::kInterleaved ? "-interleaved" : "";
        for (int64_t n_tokens : {1, 2, 4, 8, 16, 64}) {
          for (int threads : {1, 2}) {
            const std::string name =
                "matmul/" + std::string(hearth::tensor_type_name(type)) + suffix + "/" +
                std::to_string(shape.rows) + "x" + std::to_string(shape.cols) +
                "/tokens:" + std::to_string(n_tokens) + "/threads:" + std::to_string(threads);
            benchmark::RegisterBenchmark(name.c_str(), bench_matmul, type, shape, n_tokens, threads,
                                         layout)
                ->Unit(benchmark::kMicrosecond)
                ->UseRealTime();
          }
        }
      }
    }
  }
  benchmark::AddCustomContext("hearth_kernels", std::string(hearth::active_kernels().name));
  benchmark::AddCustomContext("cpu_features", hearth::cpu_features().describe());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
