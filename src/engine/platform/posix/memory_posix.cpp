// POSIX memory primitives: anonymous mmap, munmap and madvise.
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "engine/platform/memory.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; older C libraries lack the name
#endif

namespace hearth::platform {

size_t page_size() {
  static const auto size = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return size;
}

Result<uint8_t*> map_aligned_memory(size_t bytes, size_t alignment) {
  const size_t page = page_size();
  if (bytes == 0) return invalid_input("map_aligned_memory: zero bytes");
  if (alignment < page || (alignment & (alignment - 1)) != 0) {
    return invalid_input("map_aligned_memory: alignment " + std::to_string(alignment) +
                         " is not a power of two of at least a page");
  }
  const size_t rounded = (bytes + page - 1) / page * page;
  if (rounded < bytes || rounded + alignment < rounded) {
    return resource_exhausted("map_aligned_memory: " + std::to_string(bytes) +
                              " bytes exceed the address space");
  }
  // Over-map by one alignment unit, then give back what lies outside the aligned range.
  void* p = mmap(nullptr, rounded + alignment, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) {
    return resource_exhausted("cannot map " + std::to_string(bytes) +
                              " bytes of memory: " + std::strerror(errno));
  }
  const auto start = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (start + alignment - 1) / alignment * alignment;
  if (aligned > start) munmap(p, aligned - start);
  const uintptr_t end = start + rounded + alignment;
  if (end > aligned + rounded) {
    munmap(reinterpret_cast<void*>(aligned + rounded), end - (aligned + rounded));
  }
  return reinterpret_cast<uint8_t*>(aligned);
}

void unmap_memory(uint8_t* data, size_t bytes) {
  if (data == nullptr || bytes == 0) return;
  const size_t page = page_size();
  munmap(data, (bytes + page - 1) / page * page);
}

Status advise_huge_pages(uint8_t* data, size_t bytes) {
  if (madvise(data, bytes, MADV_HUGEPAGE) == 0) return ok();
  const int error_number = errno;
  std::string message = std::string("MADV_HUGEPAGE: ") + std::strerror(error_number);
  if (error_number == EINVAL) return unsupported(std::move(message));
  return fail(std::move(message));
}

Status collapse_to_huge_pages(uint8_t* data, size_t bytes) {
  if (madvise(data, bytes, MADV_COLLAPSE) == 0) return ok();
  const int error_number = errno;
  std::string message = std::string("MADV_COLLAPSE: ") + std::strerror(error_number);
  // EINVAL: this kernel has no MADV_COLLAPSE (or THP is off); EPERM: not allowed here.
  // Neither changes for the next range. EAGAIN / ENOMEM: no huge page free right now.
  if (error_number == EINVAL || error_number == EPERM) return unsupported(std::move(message));
  return unavailable(std::move(message));
}

void release_file_pages(const void* begin, size_t bytes) {
  const auto page = static_cast<uintptr_t>(page_size());
  const auto start = (reinterpret_cast<uintptr_t>(begin) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(begin) + bytes) / page * page;
  if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
}

}  // namespace hearth::platform
