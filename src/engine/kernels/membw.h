// A main-memory read-bandwidth probe: the ceiling for token generation, which reads every
// weight once per token. Reads a buffer far larger than the caches with `n_threads` threads
// and reports the best of several passes.
#pragma once

#include <cstddef>

namespace hearth {

struct BandwidthResult {
  double gigabytes_per_second = 0;  // 1e9 bytes per second
  size_t bytes_per_pass = 0;
  int passes = 0;
};

BandwidthResult measure_read_bandwidth(int n_threads, size_t bytes = size_t{1} << 30,
                                       int passes = 5);

}  // namespace hearth
