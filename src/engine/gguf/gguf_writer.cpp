// GGUF v3 writer: metadata is serialized as it is set; tensors are laid out on write.
#include <cstdio>
#include <cstring>
#include <fstream>

#include "engine/gguf/gguf.h"

namespace hearth::gguf {
namespace {

constexpr uint32_t kMagic = 0x46554747;

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  // resize + memcpy rather than insert: g++ 12 warns falsely on insert into an empty vector.
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// Serializes the payload of `v` (without its type tag, which the caller writes).
void put_value(std::vector<uint8_t>& out, const Value& v) {
  switch (v.type()) {
    case ValueType::UINT8: put<uint8_t>(out, static_cast<uint8_t>(*v.as_uint())); break;
    case ValueType::UINT16: put<uint16_t>(out, static_cast<uint16_t>(*v.as_uint())); break;
    case ValueType::UINT32: put<uint32_t>(out, static_cast<uint32_t>(*v.as_uint())); break;
    case ValueType::UINT64: put<uint64_t>(out, *v.as_uint()); break;
    case ValueType::INT8: put<int8_t>(out, static_cast<int8_t>(*v.as_int())); break;
    case ValueType::INT16: put<int16_t>(out, static_cast<int16_t>(*v.as_int())); break;
    case ValueType::INT32: put<int32_t>(out, static_cast<int32_t>(*v.as_int())); break;
    case ValueType::INT64: put<int64_t>(out, *v.as_int()); break;
    case ValueType::FLOAT32: put<float>(out, static_cast<float>(*v.as_double())); break;
    case ValueType::FLOAT64: put<double>(out, *v.as_double()); break;
    case ValueType::BOOL: put<uint8_t>(out, *v.as_bool() ? 1 : 0); break;
    case ValueType::STRING: put_string(out, *v.as_string()); break;
    case ValueType::ARRAY:
      put<uint32_t>(out, static_cast<uint32_t>(v.element_type()));
      put<uint64_t>(out, v.size());
      for (const Value& item : v.items()) put_value(out, item);
      break;
  }
}

}  // namespace

void Writer::set_raw(std::string_view key, ValueType type, std::vector<uint8_t> payload) {
  std::vector<uint8_t> encoded;
  put<uint32_t>(encoded, static_cast<uint32_t>(type));
  encoded.insert(encoded.end(), payload.begin(), payload.end());
  for (auto& [k, v] : kv_) {
    if (k == key) {
      v = std::move(encoded);
      return;
    }
  }
  kv_.emplace_back(std::string(key), std::move(encoded));
}

template <class T>
static std::vector<uint8_t> encode_scalar(T v) {
  std::vector<uint8_t> p;
  put(p, v);
  return p;
}

void Writer::set_u8(std::string_view key, uint8_t v) {
  set_raw(key, ValueType::UINT8, encode_scalar(v));
}
void Writer::set_u32(std::string_view key, uint32_t v) {
  set_raw(key, ValueType::UINT32, encode_scalar(v));
}
void Writer::set_i32(std::string_view key, int32_t v) {
  set_raw(key, ValueType::INT32, encode_scalar(v));
}
void Writer::set_u64(std::string_view key, uint64_t v) {
  set_raw(key, ValueType::UINT64, encode_scalar(v));
}
void Writer::set_f32(std::string_view key, float v) {
  set_raw(key, ValueType::FLOAT32, encode_scalar(v));
}
void Writer::set_bool(std::string_view key, bool v) {
  set_raw(key, ValueType::BOOL, encode_scalar<uint8_t>(v ? 1 : 0));
}
void Writer::set_string(std::string_view key, std::string_view v) {
  std::vector<uint8_t> p;
  put_string(p, v);
  set_raw(key, ValueType::STRING, std::move(p));
}

template <class Strings>
static std::vector<uint8_t> encode_string_array(const Strings& v) {
  std::vector<uint8_t> p;
  put<uint32_t>(p, static_cast<uint32_t>(ValueType::STRING));
  put<uint64_t>(p, v.size());
  for (const auto& s : v) put_string(p, s);
  return p;
}

void Writer::set_string_array(std::string_view key, std::span<const std::string> v) {
  set_raw(key, ValueType::ARRAY, encode_string_array(v));
}
void Writer::set_string_array(std::string_view key, std::span<const std::string_view> v) {
  set_raw(key, ValueType::ARRAY, encode_string_array(v));
}

template <class T>
static std::vector<uint8_t> encode_array(ValueType element, std::span<const T> v) {
  std::vector<uint8_t> p;
  put<uint32_t>(p, static_cast<uint32_t>(element));
  put<uint64_t>(p, v.size());
  for (T x : v) put(p, x);
  return p;
}

void Writer::set_f32_array(std::string_view key, std::span<const float> v) {
  set_raw(key, ValueType::ARRAY, encode_array(ValueType::FLOAT32, v));
}

void Writer::set_i32_array(std::string_view key, std::span<const int32_t> v) {
  set_raw(key, ValueType::ARRAY, encode_array(ValueType::INT32, v));
}

void Writer::set_value(std::string_view key, const Value& v) {
  std::vector<uint8_t> p;
  put_value(p, v);
  set_raw(key, v.type(), std::move(p));
}

void Writer::set_alignment(uint32_t alignment) {
  alignment_ = alignment;
  set_u32("general.alignment", alignment);
}

Result<uint64_t> Writer::check_tensor(std::string_view name, TensorType type,
                                      std::span<const int64_t> dims) const {
  const auto& t = traits(type);
  const std::string named = "tensor '" + std::string(name) + "'";
  if (dims.empty() || dims.size() > 4) return fail(named + ": bad rank");
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d <= 0) return fail(named + ": bad dimension");
    n *= d;
  }
  if (dims[0] % t.block_size != 0) return fail(named + ": row length not a multiple of the block");
  for (const auto& existing : tensors_) {
    if (existing.name == name) return fail("duplicate " + named);
  }
  return static_cast<uint64_t>(n / t.block_size * t.type_size);
}

Status Writer::add_tensor(std::string_view name, TensorType type, std::span<const int64_t> dims,
                          std::span<const uint8_t> data) {
  auto n_bytes = check_tensor(name, type, dims);
  if (!n_bytes) return std::unexpected(n_bytes.error());
  if (data.size() != *n_bytes) {
    return fail("tensor '" + std::string(name) + "': data size does not match its shape");
  }
  tensors_.push_back({std::string(name),
                      type,
                      {dims.begin(), dims.end()},
                      *n_bytes,
                      {data.begin(), data.end()},
                      {}});
  return ok();
}

Status Writer::add_tensor(std::string_view name, TensorType type, std::span<const int64_t> dims,
                          TensorFiller fill) {
  auto n_bytes = check_tensor(name, type, dims);
  if (!n_bytes) return std::unexpected(n_bytes.error());
  tensors_.push_back(
      {std::string(name), type, {dims.begin(), dims.end()}, *n_bytes, {}, std::move(fill)});
  return ok();
}

std::vector<uint8_t> Writer::header_bytes() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, kMagic);
  put<uint32_t>(out, 3);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, kv_.size());
  for (const auto& [key, encoded] : kv_) {
    put_string(out, key);
    out.insert(out.end(), encoded.begin(), encoded.end());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) put<uint64_t>(out, static_cast<uint64_t>(d));
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offset);
    offset = (offset + t.n_bytes + alignment_ - 1) / alignment_ * alignment_;
  }
  out.resize((out.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  return out;
}

// The tensor's bytes followed by the padding to the next aligned offset.
std::vector<uint8_t> Writer::tensor_bytes(const PendingTensor& t) const {
  std::vector<uint8_t> bytes;
  if (t.fill) {
    bytes.resize(t.n_bytes);
    t.fill(bytes);
  } else {
    bytes = t.data;
  }
  bytes.resize((bytes.size() + alignment_ - 1) / alignment_ * alignment_, 0);
  return bytes;
}

std::vector<uint8_t> Writer::to_bytes() const {
  std::vector<uint8_t> out = header_bytes();
  for (const auto& t : tensors_) {
    const std::vector<uint8_t> bytes = tensor_bytes(t);
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

Status Writer::write(const std::filesystem::path& path) const {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  auto discard = [&](const std::string& why) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    return fail(why);
  };
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return fail("cannot create " + tmp.string());
    auto emit = [&](const std::vector<uint8_t>& bytes) {
      out.write(reinterpret_cast<const char*>(bytes.data()),
                static_cast<std::streamsize>(bytes.size()));
    };
    emit(header_bytes());
    for (const auto& t : tensors_) {
      if (!out) break;
      emit(tensor_bytes(t));
    }
    out.flush();
    if (!out) return discard("cannot write " + tmp.string() + " (disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return discard("cannot rename into " + path.string() + ": " + ec.message());
  return ok();
}

}  // namespace hearth::gguf
