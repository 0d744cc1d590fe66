#include "engine/tensor/huge_page_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25  // Linux 6.1; older C libraries lack the name
#endif

namespace hearth {

std::unique_ptr<HugePageBuffer> HugePageBuffer::allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + kHugePage - 1) / kHugePage * kHugePage;
  // Over-map by one huge page, then give back what lies outside the aligned range.
  void* p = mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto start = reinterpret_cast<uintptr_t>(p);
  const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
  if (aligned > start) munmap(p, aligned - start);
  const uintptr_t end = start + rounded + kHugePage;
  if (end > aligned + rounded) {
    munmap(reinterpret_cast<void*>(aligned + rounded), end - (aligned + rounded));
  }
  auto* base = reinterpret_cast<uint8_t*>(aligned);
  return std::unique_ptr<HugePageBuffer>(new HugePageBuffer(base, rounded, bytes));
}

HugePageBuffer::HugePageBuffer(uint8_t* data, size_t mapping_bytes, size_t size)
    : data_(data), mapping_bytes_(mapping_bytes), size_(size) {}

HugePageBuffer::~HugePageBuffer() {
  stop_ = true;
  if (worker_.joinable()) worker_.join();
  munmap(data_, mapping_bytes_);
}

bool HugePageBuffer::collapse() {
  // Whole huge pages of data only: collapsing the last, partly used one would fill its unused
  // rest with zeros that count as resident memory.
  const size_t end = size_ / kHugePage * kHugePage;
  if (end == 0) return true;
  if (madvise(data_, end, MADV_HUGEPAGE) != 0) return false;
  bool all = true;
  for (size_t at = 0; at < end; at += kHugePage) {
    if (stop_) return false;
    if (madvise(data_ + at, kHugePage, MADV_COLLAPSE) == 0) continue;
    all = false;
    // EINVAL: this kernel has no MADV_COLLAPSE (or THP is off); nothing more will succeed.
    // EAGAIN / ENOMEM: no huge page free right now; the next one may still work.
    if (errno == EINVAL || errno == EPERM) return false;
  }
  return all;
}

void HugePageBuffer::collapse_in_background() {
  if (worker_.joinable()) return;
  try {
    // At normal priority: at nice 10 a server decoding on every core let it run for 2 s
    // instead of ~0.5 s, and decoding from huge pages is what it is for.
    worker_ = std::thread([this] { collapse(); });
  } catch (const std::system_error&) {
    // No thread to spare: the memory stays in ordinary pages.
  }
}

void HugePageBuffer::wait() {
  if (worker_.joinable()) worker_.join();
}

}  // namespace hearth
