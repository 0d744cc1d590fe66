#include "engine/tensor/huge_page_buffer.h"

#include <algorithm>

#include "engine/platform/memory.h"

namespace hearth {

std::unique_ptr<HugePageBuffer> HugePageBuffer::allocate(size_t bytes) {
  const size_t rounded = (std::max<size_t>(bytes, 1) + kHugePage - 1) / kHugePage * kHugePage;
  auto memory = platform::map_aligned_memory(rounded, kHugePage);
  if (!memory) return nullptr;
  return std::unique_ptr<HugePageBuffer>(new HugePageBuffer(*memory, rounded, bytes));
}

HugePageBuffer::HugePageBuffer(uint8_t* data, size_t mapping_bytes, size_t size)
    : data_(data), mapping_bytes_(mapping_bytes), size_(size) {}

HugePageBuffer::~HugePageBuffer() {
  stop_ = true;
  worker_.join();
  platform::unmap_memory(data_, mapping_bytes_);
}

bool HugePageBuffer::collapse() {
  // Whole huge pages of data only: collapsing the last, partly used one would fill its unused
  // rest with zeros that count as resident memory.
  const size_t end = size_ / kHugePage * kHugePage;
  if (end == 0) return true;
  if (!platform::advise_huge_pages(data_, end)) return false;
  bool all = true;
  for (size_t at = 0; at < end; at += kHugePage) {
    if (stop_) return false;
    auto collapsed = platform::collapse_to_huge_pages(data_ + at, kHugePage);
    if (collapsed) continue;
    all = false;
    // The kernel cannot collapse at all: nothing more will succeed. Otherwise (no huge page
    // free right now) the next one may still work.
    if (collapsed.error().kind == ErrorKind::kUnsupported) return false;
  }
  return all;
}

void HugePageBuffer::collapse_in_background() {
  if (worker_.running()) return;
  // At normal priority: at nice 10 a server decoding on every core let it run for 2 s
  // instead of ~0.5 s, and decoding from huge pages is what it is for.
  auto started = platform::Thread::start([this] { collapse(); });
  // No thread to spare: the memory stays in ordinary pages.
  if (started) worker_ = std::move(*started);
}

void HugePageBuffer::wait() {
  worker_.join();
}

}  // namespace hearth
