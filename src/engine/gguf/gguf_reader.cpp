// GGUF parsing. Layout (little-endian): magic "GGUF", u32 version, u64 tensor count,
// u64 metadata count, the metadata pairs, the tensor table, padding to the alignment, then
// the data section. Every read goes through Cursor, which refuses to step past the end.
#include <cstring>
#include <limits>

#include "engine/gguf/gguf.h"
#include "engine/platform/file_mapping.h"

namespace hearth::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint64_t kMaxAlignment = 1 << 20;

// Smallest encoded size of one value of each type; used to reject counts that cannot fit in
// the bytes that remain before anything is allocated for them.
uint64_t min_encoded_size(ValueType type) {
  switch (type) {
    case ValueType::UINT8:
    case ValueType::INT8:
    case ValueType::BOOL: return 1;
    case ValueType::UINT16:
    case ValueType::INT16: return 2;
    case ValueType::UINT32:
    case ValueType::INT32:
    case ValueType::FLOAT32: return 4;
    case ValueType::UINT64:
    case ValueType::INT64:
    case ValueType::FLOAT64:
    case ValueType::STRING:  // u64 length
      return 8;
    case ValueType::ARRAY:  // u32 type + u64 count
      return 12;
  }
  return 1;
}

bool valid_value_type(uint32_t raw) {
  return raw <= static_cast<uint32_t>(ValueType::FLOAT64);
}

class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  uint64_t offset() const { return pos_; }
  uint64_t remaining() const { return bytes_.size() - pos_; }

  template <class T>
  bool read(T& out) {
    if (remaining() < sizeof(T)) return false;
    std::memcpy(&out, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

  bool read_string(std::string_view& out) {
    uint64_t length = 0;
    if (!read(length) || length > remaining()) return false;
    out = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_), length);
    pos_ += length;
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
  uint64_t pos_ = 0;
};

}  // namespace

std::string_view value_type_name(ValueType type) {
  switch (type) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

// Parser is a friend of File and Value: it fills them in place.
class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, const Limits& limits) : cur_(bytes), limits_(limits) {}

  Status parse(File& file) {
    uint32_t magic = 0;
    if (!cur_.read(magic)) return fail("not a GGUF file: shorter than its magic number");
    if (magic != kMagic) return fail("not a GGUF file: bad magic number");
    if (!cur_.read(file.version_)) return fail("truncated GGUF header");
    if (file.version_ == 1) return fail("GGUF version 1 is not supported (re-convert the model)");
    if (file.version_ != 2 && file.version_ != 3) {
      return fail("unsupported GGUF version " + std::to_string(file.version_));
    }
    uint64_t n_tensors = 0, n_kv = 0;
    if (!cur_.read(n_tensors) || !cur_.read(n_kv)) return fail("truncated GGUF header");
    if (n_tensors > limits_.max_tensors) {
      return fail("GGUF header claims " + std::to_string(n_tensors) + " tensors (limit " +
                  std::to_string(limits_.max_tensors) + ")");
    }
    if (n_kv > limits_.max_kv) {
      return fail("GGUF header claims " + std::to_string(n_kv) + " metadata entries (limit " +
                  std::to_string(limits_.max_kv) + ")");
    }
    // Each pair takes at least a key length, a type and a one-byte value.
    if (n_kv > cur_.remaining() / 13) return fail("GGUF metadata count exceeds the file size");

    file.kv_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
      std::string_view key;
      if (!cur_.read_string(key)) return fail("truncated GGUF metadata key #" + std::to_string(i));
      uint32_t raw_type = 0;
      if (!cur_.read(raw_type)) return fail("truncated GGUF metadata '" + std::string(key) + "'");
      if (!valid_value_type(raw_type)) {
        return fail("metadata '" + std::string(key) + "' has unknown value type " +
                    std::to_string(raw_type));
      }
      Value value;
      if (auto st = read_value(static_cast<ValueType>(raw_type), value, 0); !st) {
        return fail("metadata '" + std::string(key) + "': " + st.error().message);
      }
      if (!file.kv_index_.emplace(key, file.kv_.size()).second) {
        return fail("duplicate GGUF metadata key '" + std::string(key) + "'");
      }
      file.kv_.emplace_back(key, std::move(value));
    }

    if (const Value* align = file.find("general.alignment")) {
      auto a = align->as_uint();
      if (!a || *a == 0 || *a > kMaxAlignment || (*a & (*a - 1)) != 0) {
        return fail("general.alignment must be a power of two up to 1 MiB");
      }
      file.alignment_ = *a;
    }

    // Each tensor entry takes at least name length, n_dims, type and offset.
    if (n_tensors > cur_.remaining() / 24) return fail("GGUF tensor count exceeds the file size");
    file.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
      TensorInfo t;
      if (auto st = read_tensor_info(t, i); !st) return st;
      if (!file.tensor_index_.emplace(t.name, file.tensors_.size()).second) {
        return fail("duplicate tensor name '" + std::string(t.name) + "'");
      }
      file.tensors_.push_back(std::move(t));
    }

    uint64_t data_start = cur_.offset();
    data_start = (data_start + file.alignment_ - 1) / file.alignment_ * file.alignment_;
    const uint64_t file_size = file.bytes_.size();
    if (data_start > file_size && !file.tensors_.empty()) {
      return fail("GGUF file truncated before its tensor data");
    }
    for (auto& t : file.tensors_) {
      if (t.offset % file.alignment_ != 0) {
        return fail("tensor '" + std::string(t.name) + "' data offset is not aligned");
      }
      if (t.offset > file_size - data_start || t.n_bytes > file_size - data_start - t.offset) {
        return fail("tensor '" + std::string(t.name) + "' data lies past the end of the file (" +
                    std::to_string(file_size) + " bytes): the file is truncated or corrupt");
      }
      t.data = file.bytes_.data() + data_start + t.offset;
    }
    return ok();
  }

 private:
  Status read_value(ValueType type, Value& out, uint32_t depth) {
    out.type_ = type;
    auto truncated = [&] { return fail("truncated " + std::string(value_type_name(type))); };
    switch (type) {
      case ValueType::UINT8: {
        uint8_t v;
        if (!cur_.read(v)) return truncated();
        out.u64_ = v;
        break;
      }
      case ValueType::UINT16: {
        uint16_t v;
        if (!cur_.read(v)) return truncated();
        out.u64_ = v;
        break;
      }
      case ValueType::UINT32: {
        uint32_t v;
        if (!cur_.read(v)) return truncated();
        out.u64_ = v;
        break;
      }
      case ValueType::UINT64: {
        uint64_t v;
        if (!cur_.read(v)) return truncated();
        out.u64_ = v;
        break;
      }
      case ValueType::INT8: {
        int8_t v;
        if (!cur_.read(v)) return truncated();
        out.i64_ = v;
        break;
      }
      case ValueType::INT16: {
        int16_t v;
        if (!cur_.read(v)) return truncated();
        out.i64_ = v;
        break;
      }
      case ValueType::INT32: {
        int32_t v;
        if (!cur_.read(v)) return truncated();
        out.i64_ = v;
        break;
      }
      case ValueType::INT64: {
        int64_t v;
        if (!cur_.read(v)) return truncated();
        out.i64_ = v;
        break;
      }
      case ValueType::FLOAT32: {
        float v;
        if (!cur_.read(v)) return truncated();
        out.f64_ = v;
        break;
      }
      case ValueType::FLOAT64: {
        double v;
        if (!cur_.read(v)) return truncated();
        out.f64_ = v;
        break;
      }
      case ValueType::BOOL: {
        uint8_t v;
        if (!cur_.read(v)) return truncated();
        if (v > 1) return fail("bool value " + std::to_string(v) + " is neither 0 nor 1");
        out.u64_ = v;
        break;
      }
      case ValueType::STRING:
        if (!cur_.read_string(out.str_)) return fail("string runs past the end of the file");
        break;
      case ValueType::ARRAY: {
        if (depth >= limits_.max_array_depth) return fail("arrays nested too deeply");
        uint32_t raw_elem = 0;
        uint64_t count = 0;
        if (!cur_.read(raw_elem) || !cur_.read(count)) return truncated();
        if (!valid_value_type(raw_elem)) {
          return fail("array has unknown element type " + std::to_string(raw_elem));
        }
        out.element_type_ = static_cast<ValueType>(raw_elem);
        if (count > cur_.remaining() / min_encoded_size(out.element_type_)) {
          return fail("array of " + std::to_string(count) + " elements exceeds the file size");
        }
        out.items_.resize(count);
        for (uint64_t i = 0; i < count; ++i) {
          if (auto st = read_value(out.element_type_, out.items_[i], depth + 1); !st) {
            return fail("element " + std::to_string(i) + ": " + st.error().message);
          }
        }
        break;
      }
    }
    return ok();
  }

  Status read_tensor_info(TensorInfo& t, uint64_t index) {
    const std::string where = "tensor #" + std::to_string(index);
    if (!cur_.read_string(t.name)) return fail("truncated name of " + where);
    const std::string named = "tensor '" + std::string(t.name) + "'";
    uint32_t n_dims = 0;
    if (!cur_.read(n_dims)) return fail("truncated " + named);
    if (n_dims == 0 || n_dims > limits_.max_dims) {
      return fail(named + " has " + std::to_string(n_dims) + " dimensions");
    }
    t.dims.resize(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      if (!cur_.read(dim)) return fail("truncated " + named);
      if (dim == 0 || dim > (uint64_t{1} << 40)) {
        return fail(named + " has an invalid dimension " + std::to_string(dim));
      }
      if (n_elements > std::numeric_limits<int64_t>::max() / dim) {
        return fail(named + " has more elements than can be addressed");
      }
      n_elements *= dim;
      t.dims[d] = static_cast<int64_t>(dim);
    }
    uint32_t raw_type = 0;
    if (!cur_.read(raw_type) || !cur_.read(t.offset)) return fail("truncated " + named);
    auto traits = tensor_type_traits(raw_type);
    if (!traits) {
      return fail(named + " has unknown tensor type id " + std::to_string(raw_type));
    }
    t.type = traits->type;
    if (t.dims[0] % traits->block_size != 0) {
      return fail(named + " row length " + std::to_string(t.dims[0]) +
                  " is not a multiple of the " + std::string(traits->name) + " block size");
    }
    t.n_elements = static_cast<int64_t>(n_elements);
    const uint64_t blocks = n_elements / traits->block_size;
    if (blocks > std::numeric_limits<uint64_t>::max() / traits->type_size) {
      return fail(named + " is too large");
    }
    t.n_bytes = blocks * traits->type_size;
    return ok();
  }

  Cursor cur_;
  const Limits& limits_;
};

// ---- Value -------------------------------------------------------------------------------

bool Value::is_integer() const {
  switch (type_) {
    case ValueType::UINT8:
    case ValueType::UINT16:
    case ValueType::UINT32:
    case ValueType::UINT64:
    case ValueType::INT8:
    case ValueType::INT16:
    case ValueType::INT32:
    case ValueType::INT64: return true;
    default: return false;
  }
}

static bool is_unsigned(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 ||
         t == ValueType::UINT64;
}

std::optional<int64_t> Value::as_int() const {
  if (!is_integer()) return std::nullopt;
  if (is_unsigned(type_)) {
    if (u64_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u64_);
  }
  return i64_;
}

std::optional<uint64_t> Value::as_uint() const {
  if (!is_integer()) return std::nullopt;
  if (is_unsigned(type_)) return u64_;
  if (i64_ < 0) return std::nullopt;
  return static_cast<uint64_t>(i64_);
}

std::optional<double> Value::as_double() const {
  if (is_float()) return f64_;
  if (!is_integer()) return std::nullopt;
  return is_unsigned(type_) ? static_cast<double>(u64_) : static_cast<double>(i64_);
}

std::optional<bool> Value::as_bool() const {
  if (type_ != ValueType::BOOL) return std::nullopt;
  return u64_ != 0;
}

std::optional<std::string_view> Value::as_string() const {
  if (type_ != ValueType::STRING) return std::nullopt;
  return str_;
}

// ---- File --------------------------------------------------------------------------------

// Moving the vectors and the shared storage keeps every view into the bytes valid: neither
// the bytes nor the metadata's heap buffers move.
File::File(File&& other) noexcept = default;
File& File::operator=(File&& other) noexcept = default;
File::~File() = default;

Result<File> File::parse(std::span<const uint8_t> bytes, const Limits& limits) {
  File file;
  file.bytes_ = bytes;
  Parser parser(bytes, limits);
  if (auto st = parser.parse(file); !st) return invalid_input(st.error().message);
  return file;
}

Result<File> File::open(const std::filesystem::path& path, const Limits& limits) {
  auto mapping = platform::FileMapping::open(path);
  if (!mapping) return std::unexpected(mapping.error());
  auto storage = std::make_shared<platform::FileMapping>(std::move(*mapping));
  auto parsed = parse(storage->bytes(), limits);
  if (!parsed) return with_context(path.string(), parsed.error());
  parsed->storage_ = std::move(storage);
  parsed->file_backed_ = true;
  return parsed;
}

Result<File> File::from_memory(std::vector<uint8_t> bytes, const Limits& limits) {
  auto storage = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  auto parsed = parse(std::span<const uint8_t>(*storage), limits);
  if (!parsed) return std::unexpected(parsed.error());
  parsed->storage_ = std::move(storage);
  return parsed;
}

const Value* File::find(std::string_view key) const {
  auto it = kv_index_.find(key);
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace hearth::gguf
