// Anonymous memory for data the kernels stream through again and again (weights rewritten at
// load, the memory-bandwidth probe), aligned to 2 MiB so that Linux can back it with huge
// pages. Decoding reads every weight once per token; in 4 KiB pages that is a TLB miss and a
// restart of the hardware prefetcher every 4 KiB: a 512 MB matrix read 6-20% slower than from
// huge pages here (more when memory is fast).
//
// The pages are written first in ordinary pages (fast, no waiting on the kernel), then
// collapse() or collapse_in_background() asks the kernel to move them into huge pages
// (MADV_COLLAPSE, Linux 6.1+). Asking for huge pages at fault time instead made loading a
// 0.5B model take 0.2-0.7 s longer while the kernel compacted memory. Where the kernel cannot
// (older kernel, transparent huge pages disabled, no contiguous memory), the memory stays in
// ordinary pages and works the same.
//
// The system calls (mapping, huge-page advice, the background thread) go through
// engine/platform/, so a build without them swaps that layer, not this class.
//
// Thread safety: the bytes may be read and written from any thread (collapsing never changes
// them); the other methods and the destructor belong to the owner's thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/platform/thread.h"

namespace hearth {

class HugePageBuffer {
 public:
  static constexpr size_t kHugePage = size_t{2} << 20;

  // `bytes` of zeroed memory at a 2 MiB boundary; nullptr when the address space is exhausted.
  static std::unique_ptr<HugePageBuffer> allocate(size_t bytes);
  ~HugePageBuffer();  // stops a background collapse between huge pages, then unmaps
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

  // Moves the written pages into huge pages on the calling thread. Returns whether the kernel
  // did so for every whole 2 MiB of the buffer (the last, partly used one stays as it is).
  bool collapse();
  // The same on a background thread; returns at once. At most one collapse at a time.
  void collapse_in_background();
  // Blocks until a background collapse has finished (at once if none runs).
  void wait();

 private:
  HugePageBuffer(uint8_t* data, size_t mapping_bytes, size_t size);

  uint8_t* data_;         // the mapping's start, at a 2 MiB boundary
  size_t mapping_bytes_;  // size_ rounded up to whole huge pages
  size_t size_;
  std::atomic<bool> stop_{false};
  platform::Thread worker_;
};

}  // namespace hearth
