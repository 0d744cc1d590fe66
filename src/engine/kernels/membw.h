// A main-memory read-bandwidth probe: the ceiling for token generation, which reads every
// weight once per token. Reads a buffer far larger than the caches with `n_threads` threads
// and reports the best of several passes.
#pragma once

#include <cstddef>
#include <memory>

#include "engine/tensor/huge_page_buffer.h"

namespace hearth {

struct BandwidthResult {
  double gigabytes_per_second = 0;  // 1e9 bytes per second
  size_t bytes_per_pass = 0;
  int passes = 0;
};

BandwidthResult measure_read_bandwidth(int n_threads, size_t bytes = size_t{1} << 30,
                                       int passes = 5);

// The same probe with its buffer kept, to measure again and again next to another test (on a
// shared machine the bandwidth can change within seconds). Holds `bytes` of memory. Not
// thread-safe.
class BandwidthProbe {
 public:
  BandwidthProbe(int n_threads, size_t bytes);
  ~BandwidthProbe();
  BandwidthResult measure(int passes);

 private:
  int n_threads_;
  size_t bytes_;
  std::unique_ptr<HugePageBuffer> buffer_;
};

}  // namespace hearth
