// Model: loading a GGUF file (or its bytes) into bound weights, a tokenizer and the model's
// description, plus the one job loading leaves for later (huge pages for the rewritten
// weights). Sessions run on a loaded Model; see session.cpp.
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string_view>

#include "engine/gguf/gguf.h"
#include "engine/kernels/kernel_table.h"
#include "engine/models/model_weights.h"
#include "engine/models/str_cat.h"
#include "engine/platform/thread.h"
#include "engine/tokenizer/tokenizer.h"
#include "hearth/engine.h"

namespace hearth {

using models::str_cat;
namespace {

constexpr int kDefaultContextCap = 4096;
// Stands for the path in the errors of a model loaded from memory.
constexpr const char* kMemoryLabel = "GGUF in memory";

// HEARTH_REPACK_WEIGHTS=0 keeps every matrix in the file's layout, HEARTH_HUGE_PAGES=0 the
// rewritten ones in ordinary pages (to compare).
bool enabled_unless_zero(const char* variable) {
  const char* value = std::getenv(variable);
  return value == nullptr || std::string_view(value) != "0";
}

}  // namespace

struct Model::State {
  explicit State(gguf::File f) : file(std::move(f)) {}
  // Owns the bytes the weights point into (a file mapping or a buffer); declared first,
  // destroyed last.
  gguf::File file;
  models::ModelWeights weights;
  std::optional<Tokenizer> tokenizer;  // always set once loaded
  ModelInfo info;
  ModelOptions options;
  // Huge-page collapse of the rewritten weights (start_background_work), after the first
  // forward pass: started at load, it ran alongside that pass and held the first token of a
  // 0.5B model back from 0.35-0.45 s to 0.9-1.0 s.
  bool huge_pages = true;
  std::mutex background_mutex;
  std::atomic<bool> background_started{false};
};

Model::Model(std::unique_ptr<State> state) : state_(std::move(state)) {}
Model::~Model() = default;

Result<std::shared_ptr<Model>> Model::load(const std::filesystem::path& path,
                                           const ModelOptions& options) {
  if (auto s = check_options(options); !s) return std::unexpected(s.error());
  auto file = gguf::File::open(path);
  if (!file) return with_context(path.string(), file.error());
  return from_gguf(std::move(*file), path.string(), options);
}

Result<std::shared_ptr<Model>> Model::load_from_memory(std::vector<uint8_t> gguf_bytes,
                                                       const ModelOptions& options) {
  if (auto s = check_options(options); !s) return std::unexpected(s.error());
  auto file = gguf::File::from_memory(std::move(gguf_bytes));
  if (!file) return with_context(kMemoryLabel, file.error());
  return from_gguf(std::move(*file), kMemoryLabel, options);
}

Status Model::check_options(const ModelOptions& options) {
  if (options.n_threads < 0) {
    return invalid_input(str_cat("n_threads = ", options.n_threads, " is negative"));
  }
  if (options.n_ctx < 0) return invalid_input(str_cat("n_ctx = ", options.n_ctx, " is negative"));
  return ok();
}

Result<std::shared_ptr<Model>> Model::from_gguf(gguf::File file, const std::string& label,
                                                const ModelOptions& options) {
  auto state = std::make_unique<State>(std::move(file));
  auto weights = models::load_model_weights(state->file);
  if (!weights) return with_context(label, weights.error());
  state->weights = std::move(*weights);
  if (enabled_unless_zero("HEARTH_REPACK_WEIGHTS")) {
    models::repack_weights(state->weights, active_kernels());
  }
  state->huge_pages = enabled_unless_zero("HEARTH_HUGE_PAGES");
  auto tokenizer = Tokenizer::from_gguf(state->file);
  if (!tokenizer) return with_context(label, tokenizer.error());
  if (tokenizer->n_vocab() > state->weights.hp.n_vocab) {
    // Ids the tokenizer can produce must index the embedding.
    return invalid_input(str_cat(label, ": the vocabulary has ", tokenizer->n_vocab(),
                                 " tokens but the embedding only ", state->weights.hp.n_vocab,
                                 " rows"));
  }
  state->tokenizer.emplace(std::move(*tokenizer));

  const models::HyperParams& hp = state->weights.hp;
  ModelInfo& info = state->info;
  info.arch = std::string(state->weights.arch->name);
  info.name = std::string(state->file.get_string_or("general.name", "").value_or(""));
  info.n_vocab = static_cast<int32_t>(hp.n_vocab);
  info.n_ctx_train = static_cast<int32_t>(hp.n_ctx_train);
  info.n_embd = static_cast<int32_t>(hp.n_embd);
  info.n_layer = static_cast<int32_t>(hp.n_layer);
  info.n_head = static_cast<int32_t>(hp.n_head);
  info.n_head_kv = static_cast<int32_t>(hp.n_head_kv);
  info.head_dim = static_cast<int32_t>(hp.head_dim);
  info.n_swa = static_cast<int32_t>(hp.n_swa);
  for (int64_t il = 0; il < hp.n_layer; ++il) info.n_swa_layers += hp.layer_is_swa(il) ? 1 : 0;
  info.n_ff = static_cast<int32_t>(hp.n_ff);
  info.tied_output = state->weights.tied_output;
  info.embedding_only = state->weights.arch->embedding_only;
  info.n_ctx =
      options.n_ctx > 0 ? options.n_ctx : std::min<int32_t>(info.n_ctx_train, kDefaultContextCap);
  state->options.n_ctx = info.n_ctx;
  state->options.n_threads =
      options.n_threads > 0 ? options.n_threads : platform::hardware_threads();
  return std::shared_ptr<Model>(new Model(std::move(state)));
}

const ModelInfo& Model::info() const {
  return state_->info;
}
const ModelOptions& Model::options() const {
  return state_->options;
}
const gguf::File& Model::file() const {
  return state_->file;
}
const Tokenizer& Model::tokenizer() const {
  return *state_->tokenizer;
}
const models::ModelWeights& Model::weights() const {
  return state_->weights;
}

void Model::start_background_work() const {
  if (state_->background_started.load(std::memory_order_acquire)) return;
  std::lock_guard lock(state_->background_mutex);
  if (state_->background_started.load(std::memory_order_relaxed)) return;
  if (state_->huge_pages && state_->weights.rewritten) {
    state_->weights.rewritten->collapse_in_background();
  }
  state_->background_started.store(true, std::memory_order_release);
}

void Model::finish_background_work() const {
  start_background_work();
  std::lock_guard lock(state_->background_mutex);
  if (state_->weights.rewritten) state_->weights.rewritten->wait();
}

}  // namespace hearth
