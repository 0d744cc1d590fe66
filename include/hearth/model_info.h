// Plain descriptions of a model and of how to run it: what `Model::info()` reports, the options
// `Model::load` takes and the KV cache's element type. Kept apart from hearth/engine.h (which
// declares Model and Session, implemented by engine/runtime/) so that lower engine layers
// (engine/models/) can use these types without depending on the runtime above them.
// Plain values: copy them freely between threads.
#pragma once

#include <cstdint>
#include <string>

namespace hearth {

struct ModelInfo {
  std::string arch;  // general.architecture
  std::string name;  // general.name, may be empty
  int32_t n_vocab = 0;
  int32_t n_ctx_train = 0;  // context length the model was trained for
  int32_t n_ctx = 0;        // default context of sessions on this model
  int32_t n_embd = 0;
  int32_t n_layer = 0;
  int32_t n_head = 0;
  int32_t n_head_kv = 0;
  int32_t head_dim = 0;
  int32_t n_ff = 0;
  // Sliding-window attention: the window (0 = none) and how many layers use it (gemma3: 5 of
  // every 6; phi3: all). Those layers' KV caches keep only the window.
  int32_t n_swa = 0;
  int32_t n_swa_layers = 0;
  bool tied_output = false;  // the output projection reuses the token embedding
  // An encoder (BERT family): it only embeds; decode and generation are Errors.
  bool embedding_only = false;
};

struct ModelOptions {
  int n_threads = 0;  // default threads of sessions; 0 = all hardware threads
  int n_ctx = 0;      // default context of sessions; 0 = the model's, capped at 4096
};

// Element type of a session's KV cache. F16 halves the cache's memory and the bytes that
// attention reads per generated token against F32; Q8_0 (blocks of 32 values with one F16
// scale) quarters them, at a small cost in accuracy. F32 is exact and meant for tests.
enum class KvCacheType { kF16, kQ8_0, kF32 };
// What a session gets unless its options say otherwise (SessionOptions::kv_type).
inline constexpr KvCacheType kDefaultKvCacheType = KvCacheType::kF16;

}  // namespace hearth
