// Model loading and the Session: the glue between the GGUF file, the bound weights, the KV
// cache and the forward pass.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <mutex>
#include <new>
#include <optional>
#include <string_view>
#include <thread>

#include "engine/gguf/gguf.h"
#include "engine/models/forward.h"
#include "engine/models/model_weights.h"
#include "engine/models/str_cat.h"
#include "engine/runtime/kv_cache.h"
#include "engine/runtime/thread_pool.h"
#include "engine/tokenizer/tokenizer.h"
#include "hearth/engine.h"

namespace hearth {

using models::str_cat;
namespace {

constexpr int kDefaultContextCap = 4096;

std::string embedding_only_error(const ModelInfo& info) {
  return str_cat("model '", info.name.empty() ? info.arch : info.name, "' is an embedding model (",
                 info.arch, "): it computes embeddings and cannot generate text");
}

// HEARTH_REPACK_WEIGHTS=0 keeps every matrix in the file's layout, HEARTH_HUGE_PAGES=0 the
// rewritten ones in ordinary pages (to compare).
bool enabled_unless_zero(const char* variable) {
  const char* value = std::getenv(variable);
  return value == nullptr || std::string_view(value) != "0";
}

int hardware_threads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

}  // namespace

struct Model::State {
  explicit State(gguf::File f) : file(std::move(f)) {}
  gguf::File file;  // owns the mapping the weights point into; declared first, destroyed last
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
  if (options.n_threads < 0)
    return fail(str_cat("n_threads = ", options.n_threads, " is negative"));
  if (options.n_ctx < 0) return fail(str_cat("n_ctx = ", options.n_ctx, " is negative"));
  auto file = gguf::File::open(path);
  if (!file) return fail(str_cat(path.string(), ": ", file.error().message));
  auto state = std::make_unique<State>(std::move(*file));
  auto weights = models::load_model_weights(state->file);
  if (!weights) return fail(str_cat(path.string(), ": ", weights.error().message));
  state->weights = std::move(*weights);
  if (enabled_unless_zero("HEARTH_REPACK_WEIGHTS")) {
    models::repack_weights(state->weights, active_kernels());
  }
  state->huge_pages = enabled_unless_zero("HEARTH_HUGE_PAGES");
  auto tokenizer = Tokenizer::from_gguf(state->file);
  if (!tokenizer) return fail(str_cat(path.string(), ": ", tokenizer.error().message));
  if (tokenizer->n_vocab() > state->weights.hp.n_vocab) {
    // Ids the tokenizer can produce must index the embedding.
    return fail(str_cat(path.string(), ": the vocabulary has ", tokenizer->n_vocab(),
                        " tokens but the embedding only ", state->weights.hp.n_vocab, " rows"));
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
  info.n_ff = static_cast<int32_t>(hp.n_ff);
  info.tied_output = state->weights.tied_output;
  info.embedding_only = state->weights.arch->embedding_only;
  info.n_ctx =
      options.n_ctx > 0 ? options.n_ctx : std::min<int32_t>(info.n_ctx_train, kDefaultContextCap);
  state->options.n_ctx = info.n_ctx;
  state->options.n_threads = options.n_threads > 0 ? options.n_threads : hardware_threads();
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

struct Session::Scratch {
  models::ForwardScratch forward;
  std::vector<int32_t> output_rows;
};

Session::Session(std::shared_ptr<const Model> model, const SessionOptions& options)
    : model_(std::move(model)) {
  const ModelOptions& defaults = model_->options();
  n_ctx_ = options.n_ctx > 0 ? options.n_ctx : defaults.n_ctx;
  n_batch_ = std::max(1, options.n_batch);
  const int n_threads = options.n_threads > 0 ? options.n_threads : defaults.n_threads;
  const models::HyperParams& hp = model_->weights().hp;
  // Q8_0 blocks must not straddle heads, which attention reads one at a time.
  const KvCacheType kv_type = options.kv_type == KvCacheType::kQ8_0 && hp.head_dim % 32 != 0
                                  ? KvCacheType::kF16
                                  : options.kv_type;
  // An encoder keeps nothing between calls, so it gets an empty cache.
  const int64_t cache_capacity = model_->info().embedding_only ? 0 : n_ctx_;
  cache_ =
      std::make_unique<KvCache>(hp.n_layer, cache_capacity, hp.n_head_kv, hp.head_dim, kv_type);
  if (options.pool) {
    pool_ = options.pool;
  } else {
    own_pool_ = std::make_unique<ThreadPool>(n_threads);
    pool_ = own_pool_.get();
  }
  scratch_ = std::make_unique<Scratch>();
}

Result<Session> Session::create(std::shared_ptr<const Model> model, const SessionOptions& options) {
  constexpr int kMaxContext = 1 << 20;
  if (!model) return fail("session: no model");
  if (options.n_ctx < 0 || options.n_ctx > kMaxContext) {
    return fail(str_cat("session: n_ctx = ", options.n_ctx, " is outside [0, ", kMaxContext, "]"));
  }
  if (options.n_threads < 0) {
    return fail(str_cat("session: n_threads = ", options.n_threads, " is negative"));
  }
  // Computed first: `model` is moved into the session before an allocation can fail.
  const int n_ctx = options.n_ctx > 0 ? options.n_ctx : model->options().n_ctx;
  try {
    return Session(std::move(model), options);
  } catch (const std::bad_alloc&) {
    return fail(str_cat("session: cannot allocate the KV cache for n_ctx = ", n_ctx));
  }
}

Session::~Session() = default;
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;

int32_t Session::n_past() const {
  return static_cast<int32_t>(cache_->n_past());
}
int32_t Session::n_ctx() const {
  return n_ctx_;
}

size_t Session::kv_cache_bytes() const {
  return cache_->bytes();
}

void Session::rewind(int32_t n_past) {
  cache_->truncate(n_past);
  n_logit_rows_ = 0;
  n_last_decode_ = 0;
  logits_.clear();
}

Status Session::check_decode(std::span<const int32_t> tokens) const {
  if (model_->info().embedding_only) return fail(embedding_only_error(model_->info()));
  if (tokens.empty()) return fail("decode: no tokens");
  const int64_t n_vocab = model_->weights().hp.n_vocab;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab) {
      return fail(str_cat("decode: token ", tokens[i], " at index ", i,
                          " is outside the vocabulary [0, ", n_vocab, ")"));
    }
  }
  const auto n = static_cast<int64_t>(tokens.size());
  if (cache_->n_past() + n > n_ctx_) {
    return fail(str_cat("context overflow: ", cache_->n_past(), " cached + ", n,
                        " new tokens exceed n_ctx = ", n_ctx_));
  }
  return ok();
}

void Session::prepare_logits(int64_t n_tokens, bool all_logits) {
  all_logits_ = all_logits;
  n_last_decode_ = static_cast<int>(n_tokens);
  n_logit_rows_ = all_logits ? static_cast<int>(n_tokens) : 1;
  logits_.resize(static_cast<size_t>(n_logit_rows_ * model_->weights().hp.n_vocab));
}

Status Session::decode(std::span<const int32_t> tokens, bool all_logits) {
  if (auto s = check_decode(tokens); !s) return s;
  const auto n = static_cast<int64_t>(tokens.size());
  const models::ModelWeights& w = model_->weights();
  const int64_t n_vocab = w.hp.n_vocab;
  prepare_logits(n, all_logits);
  int64_t rows_done = 0;
  for (int64_t begin = 0; begin < n; begin += n_batch_) {
    const int64_t count = std::min<int64_t>(n_batch_, n - begin);
    const bool last_chunk = begin + count == n;
    auto& rows = scratch_->output_rows;
    rows.clear();
    if (all_logits) {
      for (int64_t r = 0; r < count; ++r) rows.push_back(static_cast<int32_t>(r));
    } else if (last_chunk) {
      rows.push_back(static_cast<int32_t>(count - 1));
    }
    models::ForwardBatch batch{
        .tokens = tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(count)),
        .output_rows = rows,
        .logits = logits_.data() + rows_done * n_vocab,
        .n_ctx = n_ctx_,
    };
    if (auto s = models::forward(w, *cache_, scratch_->forward, batch, pool_); !s) return s;
    rows_done += static_cast<int64_t>(rows.size());
  }
  model_->start_background_work();
  return ok();
}

Result<std::vector<float>> Session::embed(std::span<const int32_t> tokens, bool normalize) {
  if (tokens.empty()) return fail("embed: no tokens");
  const int64_t n_vocab = model_->weights().hp.n_vocab;
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (tokens[i] < 0 || tokens[i] >= n_vocab) {
      return fail(str_cat("embed: token ", tokens[i], " at index ", i,
                          " is outside the vocabulary [0, ", n_vocab, ")"));
    }
  }
  const auto n = static_cast<int64_t>(tokens.size());
  if (n > n_ctx_) {
    return fail(str_cat("embed: ", n, " tokens exceed n_ctx = ", n_ctx_));
  }
  if (model_->info().embedding_only) return embed_encoder(tokens, normalize);
  rewind(0);
  const models::ModelWeights& w = model_->weights();
  const int64_t d = w.hp.n_embd;
  // Sums in double so long inputs do not lose the small tokens' contributions.
  std::vector<double> sum(static_cast<size_t>(d));
  std::vector<float> states;
  for (int64_t begin = 0; begin < n; begin += n_batch_) {
    const int64_t count = std::min<int64_t>(n_batch_, n - begin);
    auto& rows = scratch_->output_rows;
    rows.clear();
    for (int64_t r = 0; r < count; ++r) rows.push_back(static_cast<int32_t>(r));
    states.resize(static_cast<size_t>(count * d));
    models::ForwardBatch batch{
        .tokens = tokens.subspan(static_cast<size_t>(begin), static_cast<size_t>(count)),
        .output_rows = rows,
        .logits = nullptr,
        .embeddings = states.data(),
        .n_ctx = n_ctx_,
    };
    if (auto s = models::forward(w, *cache_, scratch_->forward, batch, pool_); !s) {
      cache_->clear();
      return std::unexpected(s.error());
    }
    for (int64_t r = 0; r < count; ++r) {
      for (int64_t i = 0; i < d; ++i) sum[i] += states[r * d + i];
    }
  }
  // The states were the point; a conversation must not continue from an embedded text.
  cache_->clear();
  model_->start_background_work();
  std::vector<float> result(static_cast<size_t>(d));
  double norm_sq = 0;
  for (int64_t i = 0; i < d; ++i) {
    const double mean = sum[i] / static_cast<double>(n);
    result[i] = static_cast<float>(mean);
    norm_sq += mean * mean;
  }
  if (normalize && norm_sq > 0) {
    const double inv = 1.0 / std::sqrt(norm_sq);
    for (int64_t i = 0; i < d; ++i)
      result[i] = static_cast<float>(sum[i] / static_cast<double>(n) * inv);
  }
  return result;
}

Result<std::vector<float>> Session::embed_encoder(std::span<const int32_t> tokens, bool normalize) {
  const models::ModelWeights& w = model_->weights();
  const auto n = static_cast<int64_t>(tokens.size());
  // Attention spans the whole input, so it cannot be split into n_batch chunks; the trained
  // context bounds its length instead (learned positions end there, RoPE encoders were
  // trained up to it).
  if (n > w.hp.n_ctx_train) {
    return fail(str_cat("embed: ", n, " tokens exceed the model's context of ", w.hp.n_ctx_train));
  }
  std::vector<float> result(static_cast<size_t>(w.hp.n_embd));
  if (auto s = models::encode(w, tokens, scratch_->forward, result.data(), pool_); !s) {
    return std::unexpected(s.error());
  }
  double norm_sq = 0;
  for (float x : result) norm_sq += static_cast<double>(x) * x;
  if (normalize && norm_sq > 0) {
    const double inv = 1.0 / std::sqrt(norm_sq);
    for (float& x : result) x = static_cast<float>(x * inv);
  }
  model_->start_background_work();
  return result;
}

Status Session::decode_batch(std::span<const DecodeRequest> requests) {
  if (requests.empty()) return ok();
  Session* first = requests.front().session;
  if (!first) return fail("decode_batch: null session");
  int64_t total = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    Session* session = requests[i].session;
    if (!session) return fail("decode_batch: null session");
    if (session->model_.get() != first->model_.get()) {
      return fail("decode_batch: the sessions do not share one model");
    }
    for (size_t j = 0; j < i; ++j) {
      if (requests[j].session == session) return fail("decode_batch: a session appears twice");
    }
    if (auto s = session->check_decode(requests[i].tokens); !s) {
      return fail(str_cat("decode_batch: request ", i, ": ", s.error().message));
    }
    total += static_cast<int64_t>(requests[i].tokens.size());
  }
  if (requests.size() == 1 || total > first->n_batch_) {
    // Long prompts gain nothing from sharing a pass; each goes through its own batches.
    for (const auto& r : requests) {
      if (auto s = r.session->decode(r.tokens, r.all_logits); !s) return s;
    }
    return ok();
  }
  std::vector<models::SequenceBatch> sequences;
  sequences.reserve(requests.size());
  for (const auto& r : requests) {
    Session& session = *r.session;
    const auto n = static_cast<int64_t>(r.tokens.size());
    session.prepare_logits(n, r.all_logits);
    auto& rows = session.scratch_->output_rows;
    rows.clear();
    for (int64_t t = r.all_logits ? 0 : n - 1; t < n; ++t) rows.push_back(static_cast<int32_t>(t));
    sequences.push_back(models::SequenceBatch{
        .cache = session.cache_.get(),
        .batch = {.tokens = r.tokens,
                  .output_rows = rows,
                  .logits = session.logits_.data(),
                  .n_ctx = session.n_ctx_},
    });
  }
  Status status =
      models::forward(first->model_->weights(), sequences, first->scratch_->forward, first->pool_);
  first->model_->start_background_work();
  return status;
}

std::span<const float> Session::logits(int i) const {
  const auto n_vocab = static_cast<size_t>(model_->weights().hp.n_vocab);
  if (n_logit_rows_ == 0) return {};
  int row = -1;
  if (all_logits_) {
    row = i < 0 ? n_logit_rows_ + i : i;
  } else if (i == -1 || i == n_last_decode_ - 1) {
    row = 0;
  }
  if (row < 0 || row >= n_logit_rows_) return {};
  return std::span<const float>(logits_).subspan(static_cast<size_t>(row) * n_vocab, n_vocab);
}

}  // namespace hearth
