// Anonymous memory and the advice the engine gives the OS about pages: the primitives behind
// tensor/huge_page_buffer.h (weights rewritten at load, kept in huge pages) and behind
// dropping a mapped file's pages once their contents were copied elsewhere.
//
// Each function is a thin wrapper over one system call on POSIX (mmap/munmap/madvise), so the
// engine's choices (which ranges, in what order) stay where they are made and only the OS
// calls are here; a build without these facilities (WebAssembly) implements them as plain
// allocation and no-op advice that reports `unsupported`.
//
// Thread-safety: every function may be called from any thread; each touches only the range it
// is given, and the caller must not unmap a range that another thread still uses.
#pragma once

#include <cstddef>
#include <cstdint>

#include "hearth/status.h"

namespace hearth::platform {

// Size of one ordinary page (4 KiB on x86-64 Linux).
size_t page_size();

// `bytes` (> 0) of zeroed, readable and writable memory whose start is a multiple of
// `alignment` (a power of two, at least the page size). Over-maps and unmaps the unaligned
// ends, so the returned range is exactly `bytes` rounded up to the page size and is freed
// with unmap_memory(data, bytes). Errors: invalid_input (bad alignment or size),
// resource_exhausted (no address space left).
Result<uint8_t*> map_aligned_memory(size_t bytes, size_t alignment);
// Frees a range from map_aligned_memory (the same `bytes`).
void unmap_memory(uint8_t* data, size_t bytes);

// Asks that [data, data + bytes) be backed by huge pages whenever the kernel gets a chance
// (MADV_HUGEPAGE); `data` must be page-aligned. Errors: unsupported (no transparent huge
// pages in this kernel or build), internal (other refusals).
Status advise_huge_pages(uint8_t* data, size_t bytes);

// Moves the already written pages of [data, data + bytes) into huge pages now, on the calling
// thread (MADV_COLLAPSE, Linux 6.1+); `data` should be huge-page aligned. Errors:
// unsupported (the kernel cannot collapse at all: nothing later will succeed either),
// unavailable (no huge page free right now; another range or a later try may work).
Status collapse_to_huge_pages(uint8_t* data, size_t bytes);

// Drops this process's copy of the whole pages inside [begin, begin + bytes) of a read-only
// file mapping (MADV_DONTNEED): they stop counting as its resident memory and are read back
// from the file if touched again. Only for file-backed, read-only mappings: on anonymous or
// heap memory the contents would be lost. Partial pages at either end are kept.
void release_file_pages(const void* begin, size_t bytes);

}  // namespace hearth::platform
