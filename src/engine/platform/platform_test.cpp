// The POSIX platform layer: each call does what its header promises, and its failures come
// back as Errors of the documented kind.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "engine/platform/file_mapping.h"
#include "engine/platform/memory.h"
#include "engine/platform/signals.h"
#include "engine/platform/thread.h"

namespace hearth::platform {
namespace {

namespace fs = std::filesystem;

fs::path temp_file(const std::string& name, const std::string& contents) {
  const fs::path path =
      fs::temp_directory_path() / ("hearth_platform_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(PlatformFileMapping, MapsTheWholeFileAndSurvivesAMove) {
  const std::string contents = "GGUF and then some bytes";
  const fs::path path = temp_file("mapped", contents);
  auto mapping = FileMapping::open(path);
  ASSERT_TRUE(mapping.has_value()) << mapping.error().message;
  const uint8_t* address = mapping->bytes().data();
  FileMapping moved = std::move(*mapping);
  EXPECT_TRUE(mapping->bytes().empty());
  ASSERT_EQ(moved.bytes().size(), contents.size());
  EXPECT_EQ(moved.bytes().data(), address);
  EXPECT_EQ(std::string(moved.bytes().begin(), moved.bytes().end()), contents);
  fs::remove(path);
}

TEST(PlatformFileMapping, FailuresHaveKinds) {
  auto missing = FileMapping::open("/nonexistent/hearth/model.gguf");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().kind, ErrorKind::kNotFound);
  EXPECT_NE(missing.error().message.find("/nonexistent/hearth/model.gguf"), std::string::npos);

  auto directory = FileMapping::open(fs::temp_directory_path());
  ASSERT_FALSE(directory.has_value());
  EXPECT_EQ(directory.error().kind, ErrorKind::kInvalidInput);

  const fs::path empty = temp_file("empty", "");
  auto empty_mapping = FileMapping::open(empty);
  ASSERT_FALSE(empty_mapping.has_value());
  EXPECT_EQ(empty_mapping.error().kind, ErrorKind::kInvalidInput);
  EXPECT_NE(empty_mapping.error().message.find("is empty"), std::string::npos);
  fs::remove(empty);
}

TEST(PlatformMemory, AlignedMemoryIsZeroedWritableAndAligned) {
  constexpr size_t kAlignment = size_t{2} << 20;
  const size_t bytes = 3 * kAlignment + 17;
  auto memory = map_aligned_memory(bytes, kAlignment);
  ASSERT_TRUE(memory.has_value()) << memory.error().message;
  EXPECT_EQ(reinterpret_cast<uintptr_t>(*memory) % kAlignment, 0u);
  EXPECT_EQ(std::accumulate(*memory, *memory + bytes, uint64_t{0}), 0u);
  for (size_t i = 0; i < bytes; i += 4096) (*memory)[i] = static_cast<uint8_t>(i >> 12);
  (*memory)[bytes - 1] = 7;
  EXPECT_EQ((*memory)[4096], 1);
  EXPECT_EQ((*memory)[bytes - 1], 7);
  // Advice may be refused by the kernel, but only with the kinds the header names.
  if (auto advised = advise_huge_pages(*memory, 3 * kAlignment); !advised) {
    EXPECT_EQ(advised.error().kind, ErrorKind::kUnsupported) << advised.error().message;
  }
  if (auto collapsed = collapse_to_huge_pages(*memory, kAlignment); !collapsed) {
    const ErrorKind kind = collapsed.error().kind;
    EXPECT_TRUE(kind == ErrorKind::kUnsupported || kind == ErrorKind::kUnavailable)
        << collapsed.error().message;
  }
  EXPECT_EQ((*memory)[4096], 1);  // advice never changes the bytes
  unmap_memory(*memory, bytes);
}

TEST(PlatformMemory, BadRequestsAreInvalidInput) {
  auto zero = map_aligned_memory(0, page_size());
  ASSERT_FALSE(zero.has_value());
  EXPECT_EQ(zero.error().kind, ErrorKind::kInvalidInput);
  auto odd = map_aligned_memory(4096, page_size() * 3);
  ASSERT_FALSE(odd.has_value());
  EXPECT_EQ(odd.error().kind, ErrorKind::kInvalidInput);
}

TEST(PlatformMemory, ReleasedFilePagesReadBackFromTheFile) {
  std::string contents(8 * page_size(), '\0');
  for (size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>('a' + i % 26);
  const fs::path path = temp_file("released", contents);
  auto mapping = FileMapping::open(path);
  ASSERT_TRUE(mapping.has_value()) << mapping.error().message;
  const auto bytes = mapping->bytes();
  ASSERT_EQ(std::string(bytes.begin(), bytes.end()), contents);
  // An unaligned range: only the whole pages inside it are dropped, and they come back.
  release_file_pages(bytes.data() + 100, bytes.size() - 200);
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), contents);
  fs::remove(path);
}

TEST(PlatformThread, RunsTheBodyAndJoins) {
  std::atomic<int> runs{0};
  auto thread = Thread::start([&runs] { runs.fetch_add(1); });
  ASSERT_TRUE(thread.has_value()) << thread.error().message;
  EXPECT_TRUE(thread->running());
  thread->join();
  EXPECT_FALSE(thread->running());
  EXPECT_EQ(runs.load(), 1);
  thread->join();  // joining again is a no-op
  {
    auto joined_by_destructor = Thread::start([&runs] { runs.fetch_add(1); });
    ASSERT_TRUE(joined_by_destructor.has_value());
  }
  EXPECT_EQ(runs.load(), 2);
  EXPECT_GE(hardware_threads(), 1);
}

TEST(PlatformSignals, FileSizeSignalIsIgnoredAfterwards) {
  struct sigaction before {};
  ASSERT_EQ(sigaction(SIGXFSZ, nullptr, &before), 0);
  ASSERT_TRUE(ignore_file_size_signal().has_value());
  struct sigaction now {};
  ASSERT_EQ(sigaction(SIGXFSZ, nullptr, &now), 0);
  EXPECT_EQ(now.sa_handler, SIG_IGN);
  ASSERT_EQ(sigaction(SIGXFSZ, &before, nullptr), 0);  // leave the process as it was
}

}  // namespace
}  // namespace hearth::platform
