// Typed access to GGUF metadata, with errors that name the key.
#include <string>

#include "engine/gguf/gguf.h"

namespace hearth::gguf {
namespace {

std::unexpected<Error> missing(std::string_view key) {
  return fail("GGUF metadata key '" + std::string(key) + "' is missing");
}

std::unexpected<Error> wrong_type(std::string_view key, const Value& v, std::string_view want) {
  return fail("GGUF metadata key '" + std::string(key) + "' is a " +
              std::string(value_type_name(v.type())) + ", expected " + std::string(want));
}

template <class T, class Convert>
Result<std::vector<T>> convert_array(const File& file, std::string_view key, std::string_view want,
                                     Convert convert) {
  const Value* v = file.find(key);
  if (!v) return missing(key);
  if (!v->is_array()) return wrong_type(key, *v, want);
  std::vector<T> out;
  out.reserve(v->size());
  for (size_t i = 0; i < v->size(); ++i) {
    auto item = convert((*v)[i]);
    if (!item) {
      return fail("GGUF metadata key '" + std::string(key) + "' element " + std::to_string(i) +
                  " is a " + std::string(value_type_name((*v)[i].type())) + ", expected " +
                  std::string(want));
    }
    out.push_back(static_cast<T>(*item));
  }
  return out;
}

}  // namespace

Result<std::string_view> File::get_string(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (auto s = v->as_string()) return *s;
  return wrong_type(key, *v, "string");
}

Result<int64_t> File::get_int(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (auto i = v->as_int()) return *i;
  return wrong_type(key, *v, "integer");
}

Result<double> File::get_float(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (auto f = v->as_double()) return *f;
  return wrong_type(key, *v, "number");
}

Result<bool> File::get_bool(std::string_view key) const {
  const Value* v = find(key);
  if (!v) return missing(key);
  if (auto b = v->as_bool()) return *b;
  return wrong_type(key, *v, "bool");
}

Result<int64_t> File::get_int_or(std::string_view key, int64_t fallback) const {
  return find(key) ? get_int(key) : Result<int64_t>(fallback);
}

Result<double> File::get_float_or(std::string_view key, double fallback) const {
  return find(key) ? get_float(key) : Result<double>(fallback);
}

Result<bool> File::get_bool_or(std::string_view key, bool fallback) const {
  return find(key) ? get_bool(key) : Result<bool>(fallback);
}

Result<std::string_view> File::get_string_or(std::string_view key,
                                             std::string_view fallback) const {
  return find(key) ? get_string(key) : Result<std::string_view>(fallback);
}

Result<std::vector<std::string_view>> File::get_string_array(std::string_view key) const {
  return convert_array<std::string_view>(*this, key, "array of strings",
                                         [](const Value& v) { return v.as_string(); });
}

Result<std::vector<float>> File::get_float_array(std::string_view key) const {
  return convert_array<float>(*this, key, "array of numbers",
                              [](const Value& v) { return v.as_double(); });
}

Result<std::vector<int64_t>> File::get_int_array(std::string_view key) const {
  return convert_array<int64_t>(*this, key, "array of integers",
                                [](const Value& v) { return v.as_int(); });
}

}  // namespace hearth::gguf
