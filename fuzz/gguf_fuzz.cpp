// libFuzzer target for the GGUF reader: any byte string must parse or fail cleanly, and a
// file that parses must expose only tensor data that lies inside the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "engine/gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = hearth::gguf::File::parse({data, size});
  if (!file) return 0;
  for (const auto& t : file->tensors()) {
    if (t.data < data || t.data + t.n_bytes > data + size) std::abort();
  }
  // Exercise the typed getters on whatever keys the input declares.
  for (const auto& [key, value] : file->metadata()) {
    (void)file->get_string_array(key);
    (void)file->get_float_array(key);
    (void)file->get_int_array(key);
    (void)file->get_int_or(key, 0);
  }
  return 0;
}
