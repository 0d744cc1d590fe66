// Run-time CPU feature detection and the choice of kernel level.
//
// The binary is built for baseline x86-64; SIMD kernels carry their own target attributes
// and are only called when the running CPU (and OS, for the wider register state) supports
// them. HEARTH_KERNELS=scalar|avx2|avx512|avx512bf16|amx caps the level, e.g. to test every path
// on one machine; a level above what the CPU has is lowered to the best it does have.
#pragma once

#include <optional>
#include <string>
#include <string_view>

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

  std::string describe() const;  // e.g. "avx2 fma f16c avx512f ..." for logs and benchmarks
};

// Ordered: each level has every path of the levels below it, so `level >= kAvx512` holds at
// kAvx512Bf16 too. kAvx512Bf16 only changes BF16 weights (BF16 activations, vdpbf16ps); kAmx
// only the prompt GEMM of interleaved integer weights (AMX tiles instead of vpdpbusd).
enum class KernelLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3, kAmx = 4 };

// Detected once; cheap to call.
const CpuFeatures& cpu_features();
// The highest level the features allow (kAvx2 needs AVX2+FMA+F16C; kAvx512 additionally
// AVX-512 F/BW/VL/VNNI; kAvx512Bf16 additionally AVX512-BF16; kAmx additionally AMX-TILE and
// AMX-INT8).
KernelLevel best_kernel_level(const CpuFeatures& features);
// best_kernel_level(cpu_features()) capped by $HEARTH_KERNELS, read once. kAmx is only kept
// when amx_self_test() (gemm.h) passes, else it falls to kAvx512Bf16 with a warning on stderr.
KernelLevel active_kernel_level();

std::optional<KernelLevel> parse_kernel_level(std::string_view name);
std::string_view kernel_level_name(KernelLevel level);

}  // namespace hearth
