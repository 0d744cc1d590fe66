// The similarity kernel, compiled with -O3 (src/rag/CMakeLists.txt) so the eight independent
// accumulators become SIMD lanes.
#include "rag/retrieval.h"

namespace hearth::rag {

float dot(const float* a, const float* b, size_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; ++l) acc[l] += a[i + l] * b[i + l];
  float sum = 0;
  for (; i < n; ++i) sum += a[i] * b[i];
  for (float v : acc) sum += v;
  return sum;
}

}  // namespace hearth::rag
