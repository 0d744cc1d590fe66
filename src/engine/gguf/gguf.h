// GGUF files: a memory-mapped, bounds-checked reader (v2 and v3) and a writer (v3).
//
// Reader: `gguf::File::open` maps the file read-only (platform::FileMapping) and parses the
// header, metadata and tensor table; `gguf::File::from_memory` parses a buffer it then owns
// (a model fetched over the network, or a build without mmap). Every count, length and offset is
// checked against the file size before use, so a truncated or lying file yields an Error, never a
// crash or an outsized allocation. Strings and tensor data are zero-copy views into the bytes:
// they stay valid while the File lives (moving the File keeps them valid). A File is immutable
// after open; any number of threads may read it concurrently.
//
// Writer: collects metadata and tensors, then writes a v3 file to a temporary name and
// renames it into place, so a failed write never leaves a half-written file under the name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/tensor/types.h"
#include "hearth/status.h"

namespace hearth::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

std::string_view value_type_name(ValueType type);

// One metadata value. Scalars are widened on read (any integer type to int64/uint64, floats
// to double); arrays hold their elements, possibly arrays themselves.
class Value {
 public:
  ValueType type() const { return type_; }
  bool is_array() const { return type_ == ValueType::ARRAY; }
  bool is_string() const { return type_ == ValueType::STRING; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::FLOAT32 || type_ == ValueType::FLOAT64; }

  // Conversions that succeed only when the stored value fits the requested kind exactly.
  std::optional<int64_t> as_int() const;
  std::optional<uint64_t> as_uint() const;
  std::optional<double> as_double() const;  // floats and integers
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Arrays.
  ValueType element_type() const { return element_type_; }
  size_t size() const { return items_.size(); }
  const Value& operator[](size_t i) const { return items_[i]; }
  const std::vector<Value>& items() const { return items_; }

 private:
  friend class Parser;
  ValueType type_ = ValueType::UINT8;
  ValueType element_type_ = ValueType::UINT8;
  union {
    uint64_t u64_ = 0;
    int64_t i64_;
    double f64_;
  };
  std::string_view str_;
  std::vector<Value> items_;
};

struct TensorInfo {
  std::string_view name;
  std::vector<int64_t> dims;  // dims[0] is the fastest-varying (row length)
  TensorType type = TensorType::F32;
  uint64_t offset = 0;  // relative to the data section
  int64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // inside the mapping, n_bytes long

  int64_t rows() const { return dims.empty() ? 0 : n_elements / dims[0]; }
};

struct Limits {
  uint64_t max_tensors = 1 << 20;
  uint64_t max_kv = 1 << 20;
  uint32_t max_dims = 4;
  uint32_t max_array_depth = 8;
};

class File {
 public:
  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Maps and parses a file. Errors keep the kind of the failure to open (not_found, ...);
  // a malformed file is invalid_input.
  static Result<File> open(const std::filesystem::path& path, const Limits& limits = {});
  // Parses `bytes` and keeps them: the File owns the buffer, and tensor data and strings
  // point into it. Malformed bytes are invalid_input.
  static Result<File> from_memory(std::vector<uint8_t> bytes, const Limits& limits = {});
  // Parses bytes the caller owns and keeps alive for the File's lifetime (tests, fuzzing).
  static Result<File> parse(std::span<const uint8_t> bytes, const Limits& limits = {});

  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  std::span<const uint8_t> bytes() const { return bytes_; }
  // Whether the bytes are a read-only mapping of a file, whose pages may be dropped
  // (platform::release_file_pages) and read back from the file: false for from_memory and
  // parse, where dropping a page would lose its contents.
  bool file_backed() const { return file_backed_; }

  const std::vector<std::pair<std::string_view, Value>>& metadata() const { return kv_; }
  const Value* find(std::string_view key) const;

  // Typed getters: an Error names the key when it is missing or has another type.
  Result<std::string_view> get_string(std::string_view key) const;
  Result<int64_t> get_int(std::string_view key) const;
  Result<double> get_float(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  // Defaults when the key is absent; still an Error when present with the wrong type.
  Result<int64_t> get_int_or(std::string_view key, int64_t fallback) const;
  Result<double> get_float_or(std::string_view key, double fallback) const;
  Result<bool> get_bool_or(std::string_view key, bool fallback) const;
  Result<std::string_view> get_string_or(std::string_view key, std::string_view fallback) const;
  // Whole arrays, converted element by element.
  Result<std::vector<std::string_view>> get_string_array(std::string_view key) const;
  Result<std::vector<float>> get_float_array(std::string_view key) const;
  Result<std::vector<int64_t>> get_int_array(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  File() = default;
  friend class Parser;

  // Keeps the bytes alive (a platform::FileMapping or a buffer); null for `parse`. Shared
  // ownership so that the type of the storage stays out of this header.
  std::shared_ptr<const void> storage_;
  bool file_backed_ = false;
  std::span<const uint8_t> bytes_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  std::vector<std::pair<std::string_view, Value>> kv_;
  std::unordered_map<std::string_view, size_t> kv_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Builds a GGUF v3 file. Not thread-safe; one writer per thread.
class Writer {
 public:
  void set_u8(std::string_view key, uint8_t v);
  void set_u32(std::string_view key, uint32_t v);
  void set_i32(std::string_view key, int32_t v);
  void set_u64(std::string_view key, uint64_t v);
  void set_f32(std::string_view key, float v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);
  void set_string_array(std::string_view key, std::span<const std::string> v);
  void set_string_array(std::string_view key, std::span<const std::string_view> v);
  void set_f32_array(std::string_view key, std::span<const float> v);
  void set_i32_array(std::string_view key, std::span<const int32_t> v);
  // Copies a value read from another file (any type, arrays included).
  void set_value(std::string_view key, const Value& v);
  void set_alignment(uint32_t alignment);  // also written as general.alignment

  // `data` must hold exactly the tensor's bytes; it is copied.
  Status add_tensor(std::string_view name, TensorType type, std::span<const int64_t> dims,
                    std::span<const uint8_t> data);
  // A tensor whose bytes are produced at write time by `fill` (given a buffer of exactly the
  // tensor's size), so files larger than memory can be written one tensor at a time.
  using TensorFiller = std::function<void(std::span<uint8_t>)>;
  Status add_tensor(std::string_view name, TensorType type, std::span<const int64_t> dims,
                    TensorFiller fill);

  std::vector<uint8_t> to_bytes() const;
  // Writes to `path` + ".tmp" then renames over `path`.
  Status write(const std::filesystem::path& path) const;

 private:
  struct PendingTensor {
    std::string name;
    TensorType type;
    std::vector<int64_t> dims;
    uint64_t n_bytes = 0;
    std::vector<uint8_t> data;  // empty when `fill` produces the bytes
    TensorFiller fill;
  };
  void set_raw(std::string_view key, ValueType type, std::vector<uint8_t> payload);
  Result<uint64_t> check_tensor(std::string_view name, TensorType type,
                                std::span<const int64_t> dims) const;
  // Header, metadata, tensor table and the padding up to the data section.
  std::vector<uint8_t> header_bytes() const;
  std::vector<uint8_t> tensor_bytes(const PendingTensor& t) const;

  std::vector<std::pair<std::string, std::vector<uint8_t>>> kv_;  // key, type + payload
  std::vector<PendingTensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace hearth::gguf
