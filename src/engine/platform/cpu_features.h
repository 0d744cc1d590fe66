// The one source of what this CPU (and its OS) can run: the kernels pick their table from it
// (kernels/kernel_table.h) and the catalog picks a model variant from it (catalog/resolve.cpp).
//
// x86 is probed with cpuid and XCR0, so a feature counts only when the OS also saves its
// registers; other architectures report no features (their portable kernels need none).
//
// Thread-safety: cpu_features() detects once, on first use, and is safe to call from any
// thread; CpuFeatures is a plain value.
#pragma once

#include <string>

namespace hearth {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512vnni = false;
  bool avx512bf16 = false;
  // AMX as reported by cpuid + XCR0, and (Linux) granted: detection asks the kernel for the
  // tile data state once (arch_prctl ARCH_REQ_XCOMP_PERM) and clears these if it refuses.
  bool amx_tile = false;
  bool amx_int8 = false;
  bool amx_bf16 = false;

  // True when every feature set in `required` is set here too (a kernel table's requirement
  // against the CPU's features).
  bool has_all(const CpuFeatures& required) const;
  std::string describe() const;  // e.g. "avx2 fma f16c avx512f ..." for logs and benchmarks
};

// Detected once; cheap to call.
const CpuFeatures& cpu_features();

}  // namespace hearth
