#include "engine/kernels/kernel_table.h"

#include <cstdio>
#include <cstdlib>
#include <iterator>

namespace hearth {
namespace {

// The registry, most preferred first. Adding an instruction set (wasm_simd128, NEON, ...)
// means one new file with its kernels and one KernelTable, plus one line here (under the
// architecture's #if); nothing that chooses or calls kernels changes.
constexpr const KernelTable* kTables[] = {
#if defined(__x86_64__)
    &kAmxKernels,         &kAvx512Bf16Kernels, &kAvx512Kernels, &kAvx2Kernels,
#endif
#if defined(__wasm_simd128__)
    &kWasmSimd128Kernels,
#endif
    &kPortableKernels,
};

size_t index_of(const KernelTable* table) {
  for (size_t i = 0; i < std::size(kTables); ++i) {
    if (kTables[i] == table) return i;
  }
  return 0;
}

}  // namespace

std::span<const KernelTable* const> kernel_tables() {
  return kTables;
}

const KernelTable* find_kernels(std::string_view name) {
  for (const KernelTable* table : kTables) {
    if (table->name == name) return table;
  }
  return nullptr;
}

const KernelTable* runnable_kernels(std::string_view name) {
  const KernelTable* table = find_kernels(name);
  return table && cpu_features().has_all(table->required) ? table : nullptr;
}

const KernelTable& best_kernels(const CpuFeatures& features, const KernelTable* start) {
  for (size_t i = start ? index_of(start) : 0; i < std::size(kTables); ++i) {
    if (features.has_all(kTables[i]->required)) return *kTables[i];
  }
  return kPortableKernels;
}

const KernelTable& active_kernels() {
  static const KernelTable& chosen = []() -> const KernelTable& {
    const char* env = std::getenv("HEARTH_KERNELS");
    const KernelTable* table = &best_kernels(cpu_features(), env ? find_kernels(env) : nullptr);
    // The portable table, last, has no self-test, so a next table always exists.
    while (table->self_test && !table->self_test()) {
      const KernelTable& next = best_kernels(cpu_features(), kTables[index_of(table) + 1]);
      std::fprintf(stderr,
                   "hearth: the %.*s kernels' self-test failed on this CPU (their results differ "
                   "from the reference kernels'); using %.*s\n",
                   static_cast<int>(table->name.size()), table->name.data(),
                   static_cast<int>(next.name.size()), next.name.data());
      table = &next;
    }
    return *table;
  }();
  return chosen;
}

}  // namespace hearth
