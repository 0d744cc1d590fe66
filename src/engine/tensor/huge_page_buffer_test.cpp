#include "engine/tensor/huge_page_buffer.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace hearth {
namespace {

// AnonHugePages (bytes) of the mapping that holds `address`, from /proc/self/smaps; -1 when
// the file or the mapping is not found.
int64_t huge_page_bytes_at(const void* address) {
  std::ifstream smaps("/proc/self/smaps");
  const auto target = reinterpret_cast<uintptr_t>(address);
  std::string line;
  bool inside = false;
  while (std::getline(smaps, line)) {
    uintptr_t begin = 0, end = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &begin, &end) == 2) {
      inside = begin <= target && target < end;
      continue;
    }
    long kb = 0;
    if (inside && std::sscanf(line.c_str(), "AnonHugePages: %ld kB", &kb) == 1) return kb * 1024;
  }
  return -1;
}

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  return bytes;
}

TEST(HugePageBuffer, IsAlignedZeroedAndKeepsItsBytesThroughACollapse) {
  const size_t size = 5 * HugePageBuffer::kHugePage + 123;
  auto buffer = HugePageBuffer::allocate(size);
  ASSERT_NE(buffer, nullptr);
  EXPECT_EQ(buffer->size(), size);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer->data()) % HugePageBuffer::kHugePage, 0u);
  EXPECT_EQ(std::accumulate(buffer->data(), buffer->data() + size, uint64_t{0}), 0u);
  const std::vector<uint8_t> want = pattern(size);
  std::copy(want.begin(), want.end(), buffer->data());

  const bool collapsed = buffer->collapse();
  EXPECT_TRUE(std::equal(want.begin(), want.end(), buffer->data()));
  if (collapsed) {
    // Every whole huge page of data now is one; the partly used last one is left alone.
    EXPECT_GE(huge_page_bytes_at(buffer->data()),
              static_cast<int64_t>(5 * HugePageBuffer::kHugePage));
  } else {
    std::printf("note: the kernel did not collapse the pages (no MADV_COLLAPSE or THP off)\n");
  }
}

TEST(HugePageBuffer, BackgroundCollapseKeepsBytesAndStopsWithTheBuffer) {
  const size_t size = 8 * HugePageBuffer::kHugePage;
  const std::vector<uint8_t> want = pattern(size);
  {
    auto buffer = HugePageBuffer::allocate(size);
    ASSERT_NE(buffer, nullptr);
    std::copy(want.begin(), want.end(), buffer->data());
    buffer->collapse_in_background();
    buffer->collapse_in_background();  // a second request while one runs is ignored
    buffer->wait();
    EXPECT_TRUE(std::equal(want.begin(), want.end(), buffer->data()));
    buffer->wait();  // nothing left to wait for
  }
  for (int i = 0; i < 4; ++i) {  // destroyed while collapsing: stops, then unmaps
    auto buffer = HugePageBuffer::allocate(size);
    ASSERT_NE(buffer, nullptr);
    std::copy(want.begin(), want.end(), buffer->data());
    buffer->collapse_in_background();
  }
}

TEST(HugePageBuffer, SmallAndEmptyBuffers) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{4096}, HugePageBuffer::kHugePage - 1}) {
    auto buffer = HugePageBuffer::allocate(size);
    ASSERT_NE(buffer, nullptr);
    EXPECT_EQ(buffer->size(), size);
    if (size > 0) buffer->data()[size - 1] = 7;
    EXPECT_TRUE(buffer->collapse());  // no whole huge page: nothing to do
  }
}

}  // namespace
}  // namespace hearth
