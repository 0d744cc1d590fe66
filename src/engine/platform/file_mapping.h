// A whole file mapped read-only into memory: the bytes GGUF parsing and the weights read.
//
// On POSIX this is mmap(PROT_READ, MAP_SHARED): pages come from the page cache on first touch,
// so opening a multi-gigabyte model costs nothing until its weights are read, and several
// processes mapping the same file share one copy. A later build without mmap (WebAssembly)
// provides another implementation of this header, e.g. one that reads the file into memory.
//
// Ownership: a FileMapping owns its mapping and unmaps it when destroyed; it is move-only, and
// moving it keeps `bytes()` valid (the address does not change). Thread-safety: the bytes are
// immutable and may be read from any number of threads; the object itself belongs to one
// owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>

#include "hearth/status.h"

namespace hearth::platform {

class FileMapping {
 public:
  // Maps `path`. Errors: not_found (no such file), invalid_input (not a regular file, or
  // empty), resource_exhausted (no address space or memory for the mapping), internal (other
  // failures of the system); the message names the path and the system's reason.
  static Result<FileMapping> open(const std::filesystem::path& path);

  FileMapping(FileMapping&& other) noexcept;
  FileMapping& operator=(FileMapping&& other) noexcept;
  FileMapping(const FileMapping&) = delete;
  FileMapping& operator=(const FileMapping&) = delete;
  ~FileMapping();

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  FileMapping(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  void release();

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace hearth::platform
