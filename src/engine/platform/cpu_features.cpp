#include "engine/platform/cpu_features.h"

#include <cstdint>
#include <iterator>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <asm/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace hearth {
namespace {

// Every flag, so that describe() and has_all() cannot miss one added later.
struct NamedFeature {
  bool CpuFeatures::*flag;
  const char* name;
};
constexpr NamedFeature kFeatures[] = {
    {&CpuFeatures::avx2, "avx2"},
    {&CpuFeatures::fma, "fma"},
    {&CpuFeatures::f16c, "f16c"},
    {&CpuFeatures::avx512f, "avx512f"},
    {&CpuFeatures::avx512bw, "avx512bw"},
    {&CpuFeatures::avx512vl, "avx512vl"},
    {&CpuFeatures::avx512vnni, "avx512vnni"},
    {&CpuFeatures::avx512bf16, "avx512bf16"},
    {&CpuFeatures::amx_tile, "amx-tile"},
    {&CpuFeatures::amx_int8, "amx-int8"},
    {&CpuFeatures::amx_bf16, "amx-bf16"},
};
static_assert(sizeof(CpuFeatures) == std::size(kFeatures) * sizeof(bool),
              "a CpuFeatures flag is missing from kFeatures");

// Linux hands out the AMX tile data state (8 KiB per thread) only to processes that ask for
// it; a tile instruction without the permission faults.
[[maybe_unused]] bool os_grants_amx() {
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

bool CpuFeatures::has_all(const CpuFeatures& required) const {
  for (const NamedFeature& f : kFeatures) {
    if (required.*f.flag && !(this->*f.flag)) return false;
  }
  return true;
}

std::string CpuFeatures::describe() const {
  std::string out;
  for (const NamedFeature& f : kFeatures) {
    if (!(this->*f.flag)) continue;
    if (!out.empty()) out += ' ';
    out += f.name;
  }
  return out.empty() ? "none" : out;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

}  // namespace hearth
