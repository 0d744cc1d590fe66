#include "engine/kernels/cpu.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <cstdio>

#include "engine/kernels/gemm.h"

namespace hearth {
namespace {

// Linux hands out the AMX tile data state (8 KiB per thread) only to processes that ask for
// it; a tile instruction without the permission faults.
bool os_grants_amx() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kXfeatureXtileData = 18;  // the XSAVE state component of the tile data
  return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, kXfeatureXtileData) == 0;
#else
  return false;
#endif
}

#if defined(__x86_64__) || defined(__i386__)
// XCR0: which register states the OS saves on context switch. A CPU feature is only usable
// when the OS also preserves its registers.
uint64_t read_xcr0() {
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6) == 0x6;          // SSE + AVX state
  const bool os_zmm = (xcr0 & 0xE6) == 0xE6;        // + opmask, ZMM0-15 high, ZMM16-31
  const bool os_amx = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  if (!os_ymm) return f;
  f.fma = ecx & (1u << 12);
  f.f16c = ecx & (1u << 29);

  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7) return f;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const unsigned max_subleaf = eax;
  f.avx2 = ebx & (1u << 5);
  if (os_zmm) {
    f.avx512f = ebx & (1u << 16);
    f.avx512bw = ebx & (1u << 30);
    f.avx512vl = ebx & (1u << 31);
    f.avx512vnni = ecx & (1u << 11);
  }
  if (os_amx && (edx & (1u << 24)) && os_grants_amx()) {
    f.amx_bf16 = edx & (1u << 22);
    f.amx_tile = true;
    f.amx_int8 = edx & (1u << 25);
  }
  if (max_subleaf >= 1 && os_zmm) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avx512bf16 = eax & (1u << 5);
  }
  return f;
}
#else
CpuFeatures detect() {
  return {};
}
#endif

}  // namespace

std::string CpuFeatures::describe() const {
  std::string out;
  auto add = [&](bool present, const char* name) {
    if (!present) return;
    if (!out.empty()) out += ' ';
    out += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vl, "avx512vl");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(amx_tile, "amx-tile");
  add(amx_int8, "amx-int8");
  add(amx_bf16, "amx-bf16");
  return out.empty() ? "none" : out;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

KernelLevel best_kernel_level(const CpuFeatures& f) {
  if (!(f.avx2 && f.fma && f.f16c)) return KernelLevel::kScalar;
  if (f.avx512f && f.avx512bw && f.avx512vl && f.avx512vnni) {
    if (!f.avx512bf16) return KernelLevel::kAvx512;
    return f.amx_tile && f.amx_int8 ? KernelLevel::kAmx : KernelLevel::kAvx512Bf16;
  }
  return KernelLevel::kAvx2;
}

KernelLevel active_kernel_level() {
  static const KernelLevel level = [] {
    KernelLevel best = best_kernel_level(cpu_features());
    if (best == KernelLevel::kAmx && !amx_self_test()) {
      std::fprintf(stderr,
                   "hearth: the AMX kernels' self-test failed on this CPU (its tile products or "
                   "GEMM results differ from the model and the AVX-512 GEMM); using AVX-512\n");
      best = KernelLevel::kAvx512Bf16;
    }
    const char* env = std::getenv("HEARTH_KERNELS");
    if (!env || !*env) return best;
    const auto requested = parse_kernel_level(env);
    if (!requested) return best;  // unknown names keep the default rather than failing
    return std::min(*requested, best);
  }();
  return level;
}

std::optional<KernelLevel> parse_kernel_level(std::string_view name) {
  if (name == "scalar") return KernelLevel::kScalar;
  if (name == "avx2") return KernelLevel::kAvx2;
  if (name == "avx512") return KernelLevel::kAvx512;
  if (name == "avx512bf16") return KernelLevel::kAvx512Bf16;
  if (name == "amx") return KernelLevel::kAmx;
  return std::nullopt;
}

std::string_view kernel_level_name(KernelLevel level) {
  switch (level) {
    case KernelLevel::kScalar: return "scalar";
    case KernelLevel::kAvx2: return "avx2";
    case KernelLevel::kAvx512: return "avx512";
    case KernelLevel::kAvx512Bf16: return "avx512bf16";
    case KernelLevel::kAmx: return "amx";
  }
  return "unknown";
}

}  // namespace hearth
