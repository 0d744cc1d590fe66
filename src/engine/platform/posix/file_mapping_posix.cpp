// POSIX FileMapping: open + fstat + mmap(PROT_READ, MAP_SHARED), the descriptor closed at once
// (the mapping keeps the file alive).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "engine/platform/file_mapping.h"

namespace hearth::platform {
namespace {

std::unexpected<Error> system_error(const std::string& what, int error_number) {
  std::string message = what + ": " + std::strerror(error_number);
  switch (error_number) {
    case ENOENT:
    case ENOTDIR: return not_found(std::move(message));
    case ENOMEM:
    case EMFILE:
    case ENFILE: return resource_exhausted(std::move(message));
    default: return fail(std::move(message));
  }
}

}  // namespace

Result<FileMapping> FileMapping::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return system_error("cannot open " + path.string(), errno);
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return invalid_input(path.string() + " is not a regular file");
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return invalid_input(path.string() + " is empty");
  }
  void* mapping = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  const int map_error = errno;
  ::close(fd);
  if (mapping == MAP_FAILED) return system_error("cannot map " + path.string(), map_error);
  return FileMapping(static_cast<const uint8_t*>(mapping), size);
}

FileMapping::FileMapping(FileMapping&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

FileMapping& FileMapping::operator=(FileMapping&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

FileMapping::~FileMapping() {
  release();
}

void FileMapping::release() {
  if (data_) munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
}

}  // namespace hearth::platform
