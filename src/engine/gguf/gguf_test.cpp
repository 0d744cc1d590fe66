#include "engine/gguf/gguf.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

#include "support/fixtures.h"

namespace hearth::gguf {
namespace {

std::vector<uint8_t> sample_file() {
  Writer w;
  w.set_string("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("flag", true);
  std::vector<std::string> tokens = {"a", "b", "<s>"};
  w.set_string_array("tokenizer.ggml.tokens", tokens);
  std::vector<float> scores = {0.5f, -1.0f, 0.0f};
  w.set_f32_array("tokenizer.ggml.scores", scores);
  std::vector<float> data(64);
  for (int i = 0; i < 64; ++i) data[i] = static_cast<float>(i);
  const int64_t dims[] = {16, 4};
  EXPECT_TRUE(w.add_tensor("t0", TensorType::F32, dims,
                           {reinterpret_cast<const uint8_t*>(data.data()), data.size() * 4}));
  const int64_t dims1[] = {3};
  std::vector<float> small = {1, 2, 3};
  EXPECT_TRUE(w.add_tensor("t1", TensorType::F32, dims1,
                           {reinterpret_cast<const uint8_t*>(small.data()), 12}));
  return w.to_bytes();
}

TEST(Gguf, WriterRoundTrip) {
  auto bytes = sample_file();
  auto file = File::parse(bytes);
  ASSERT_TRUE(file) << file.error().message;
  EXPECT_EQ(file->version(), 3u);
  EXPECT_EQ(*file->get_string("general.architecture"), "llama");
  EXPECT_EQ(*file->get_int("llama.block_count"), 2);
  EXPECT_FLOAT_EQ(*file->get_float("llama.rope.freq_base"), 10000.0);
  EXPECT_TRUE(*file->get_bool("flag"));
  auto tokens = file->get_string_array("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens);
  EXPECT_EQ((*tokens)[2], "<s>");
  EXPECT_EQ(file->get_float_array("tokenizer.ggml.scores")->at(1), -1.0f);
  EXPECT_EQ(*file->get_int_or("missing", 7), 7);
  EXPECT_FALSE(file->get_int("general.architecture"));  // wrong type is an error
  EXPECT_FALSE(file->get_string("nope"));
  ASSERT_EQ(file->tensors().size(), 2u);
  const TensorInfo* t0 = file->find_tensor("t0");
  ASSERT_NE(t0, nullptr);
  EXPECT_EQ(t0->rows(), 4);
  EXPECT_EQ(t0->n_bytes, 256u);
  EXPECT_EQ((t0->data - bytes.data()) % 32, 0);
  float v;
  std::memcpy(&v, t0->data + 4 * 17, 4);
  EXPECT_EQ(v, 17.0f);
  const TensorInfo* t1 = file->find_tensor("t1");
  std::memcpy(&v, t1->data + 8, 4);
  EXPECT_EQ(v, 3.0f);
}

TEST(Gguf, CopiesValuesBetweenFiles) {
  auto bytes = sample_file();
  auto file = File::parse(bytes);
  ASSERT_TRUE(file);
  Writer w;
  for (const auto& [key, value] : file->metadata()) w.set_value(key, value);
  auto copy_bytes = w.to_bytes();
  auto copy = File::parse(copy_bytes);
  ASSERT_TRUE(copy) << copy.error().message;
  EXPECT_EQ(copy->metadata().size(), file->metadata().size());
  EXPECT_EQ(copy->get_string_array("tokenizer.ggml.tokens")->size(), 3u);
}

TEST(Gguf, EveryTruncationIsAnError) {
  auto bytes = sample_file();
  // Padding after the last tensor is optional, so every cut before its last byte must fail.
  auto whole = File::parse(bytes);
  ASSERT_TRUE(whole);
  const TensorInfo* last = whole->find_tensor("t1");
  const size_t data_end = static_cast<size_t>(last->data - bytes.data()) + last->n_bytes;
  for (size_t len = 0; len < data_end; ++len) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(len));
    auto file = File::parse(cut);
    EXPECT_FALSE(file) << "truncated at " << len << " of " << bytes.size();
  }
}

// Overwrites the u64 at `offset` (little-endian).
void poke_u64(std::vector<uint8_t>& bytes, size_t offset, uint64_t v) {
  std::memcpy(bytes.data() + offset, &v, 8);
}

TEST(Gguf, AbsurdCountsAreErrors) {
  auto bytes = sample_file();
  auto huge_tensors = bytes;
  poke_u64(huge_tensors, 8, uint64_t{1} << 62);
  EXPECT_FALSE(File::parse(huge_tensors));
  auto huge_kv = bytes;
  poke_u64(huge_kv, 16, uint64_t{1} << 40);
  EXPECT_FALSE(File::parse(huge_kv));
  auto huge_key = bytes;
  poke_u64(huge_key, 24, uint64_t{1} << 60);  // first key's length
  EXPECT_FALSE(File::parse(huge_key));
  auto bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_FALSE(File::parse(bad_magic));
  auto bad_version = bytes;
  bad_version[4] = 9;
  EXPECT_FALSE(File::parse(bad_version));
}

// A hand-built file with one tensor whose fields can be corrupted one at a time.
std::vector<uint8_t> one_tensor_file(uint32_t n_dims, uint64_t dim0, uint32_t type, uint64_t offset,
                                     size_t data_bytes) {
  std::vector<uint8_t> b;
  auto put32 = [&](uint32_t v) { b.insert(b.end(), (uint8_t*)&v, (uint8_t*)&v + 4); };
  auto put64 = [&](uint64_t v) { b.insert(b.end(), (uint8_t*)&v, (uint8_t*)&v + 8); };
  put32(0x46554747);
  put32(3);
  put64(1);
  put64(0);
  put64(1);
  b.push_back('w');
  put32(n_dims);
  for (uint32_t i = 0; i < n_dims; ++i) put64(i == 0 ? dim0 : 1);
  put32(type);
  put64(offset);
  b.resize((b.size() + 31) / 32 * 32, 0);
  b.resize(b.size() + data_bytes, 0);
  return b;
}

TEST(Gguf, LyingTensorTablesAreErrors) {
  EXPECT_TRUE(File::parse(one_tensor_file(1, 32, 0, 0, 128)));
  EXPECT_FALSE(File::parse(one_tensor_file(1, 32, 0, 0, 127)));                  // data truncated
  EXPECT_FALSE(File::parse(one_tensor_file(1, 32, 0, 32, 128)));                 // offset past end
  EXPECT_FALSE(File::parse(one_tensor_file(1, 32, 0, 7, 256)));                  // unaligned
  EXPECT_FALSE(File::parse(one_tensor_file(1, 32, 99, 0, 128)));                 // unknown type
  EXPECT_FALSE(File::parse(one_tensor_file(1, 33, 2, 0, 128)));                  // not a Q4_0 block
  EXPECT_FALSE(File::parse(one_tensor_file(9, 32, 0, 0, 128)));                  // too many dims
  EXPECT_FALSE(File::parse(one_tensor_file(1, 0, 0, 0, 128)));                   // zero dim
  EXPECT_FALSE(File::parse(one_tensor_file(1, uint64_t{1} << 62, 0, 0, 128)));   // huge dim
  EXPECT_FALSE(File::parse(one_tensor_file(1, 32, 0, ~uint64_t{0} - 31, 128)));  // wrap-around
}

TEST(Gguf, DeeplyNestedArraysAreRefused) {
  std::vector<uint8_t> b;
  auto put32 = [&](uint32_t v) { b.insert(b.end(), (uint8_t*)&v, (uint8_t*)&v + 4); };
  auto put64 = [&](uint64_t v) { b.insert(b.end(), (uint8_t*)&v, (uint8_t*)&v + 8); };
  put32(0x46554747);
  put32(3);
  put64(0);
  put64(1);
  put64(1);
  b.push_back('k');
  put32(9);
  for (int i = 0; i < 100; ++i) {
    put32(9);
    put64(1);
  }
  put32(0);
  put64(0);
  auto file = File::parse(b);
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("nested"), std::string::npos);
}

TEST(Gguf, OpensEveryFixture) {
  namespace fs = std::filesystem;
  int opened = 0;
  for (const char* dir : {"models", "tokenizer"}) {
    for (const auto& entry : fs::directory_iterator(testing::fixtures_dir() / dir)) {
      if (entry.path().extension() != ".gguf") continue;
      auto file = File::open(entry.path());
      ASSERT_TRUE(file) << entry.path() << ": " << file.error().message;
      EXPECT_TRUE(file->version() == 2 || file->version() == 3);
      EXPECT_TRUE(file->get_string("general.architecture"));
      ++opened;
    }
  }
  EXPECT_GE(opened, 18);
}

TEST(Gguf, MissingFileIsAnError) {
  auto file = File::open("/nonexistent/model.gguf");
  ASSERT_FALSE(file);
  EXPECT_NE(file.error().message.find("cannot open"), std::string::npos);
  EXPECT_EQ(file.error().kind, ErrorKind::kNotFound);
}

TEST(Gguf, FromMemoryOwnsItsBytesAndMatchesTheFile) {
  const auto path = testing::fixtures_dir() / "models" / "stories260K.gguf";
  auto mapped = File::open(path);
  ASSERT_TRUE(mapped) << mapped.error().message;
  EXPECT_TRUE(mapped->file_backed());
  std::vector<uint8_t> copy(mapped->bytes().begin(), mapped->bytes().end());
  const uint8_t* buffer = copy.data();
  auto in_memory = File::from_memory(std::move(copy));
  ASSERT_TRUE(in_memory) << in_memory.error().message;
  EXPECT_FALSE(in_memory->file_backed());
  // The File took the buffer itself: its views point into it, and survive a move.
  EXPECT_EQ(in_memory->bytes().data(), buffer);
  File moved = std::move(*in_memory);
  EXPECT_EQ(moved.bytes().data(), buffer);
  ASSERT_EQ(moved.tensors().size(), mapped->tensors().size());
  for (size_t i = 0; i < moved.tensors().size(); ++i) {
    const TensorInfo& a = mapped->tensors()[i];
    const TensorInfo& b = moved.tensors()[i];
    EXPECT_EQ(a.name, b.name);
    ASSERT_EQ(a.n_bytes, b.n_bytes);
    EXPECT_EQ(b.data - moved.bytes().data(), a.data - mapped->bytes().data());
    EXPECT_EQ(std::memcmp(a.data, b.data, a.n_bytes), 0) << a.name;
  }
  EXPECT_EQ(*moved.get_string("general.architecture"), *mapped->get_string("general.architecture"));
}

TEST(Gguf, MalformedBytesAreInvalidInput) {
  auto bytes = sample_file();
  bytes.resize(bytes.size() / 2);
  auto file = File::from_memory(std::move(bytes));
  ASSERT_FALSE(file);
  EXPECT_EQ(file.error().kind, ErrorKind::kInvalidInput);
}

}  // namespace
}  // namespace hearth::gguf
