// The Session: the glue between a loaded Model, its KV cache and the forward pass. Model
// itself (loading, background work) lives in model.cpp.
#include <algorithm>
#include <cmath>
#include <new>
#include <system_error>

#include "engine/models/forward.h"
#include "engine/models/kv_cache.h"
#include "engine/models/model_weights.h"
#include "engine/models/str_cat.h"
#include "engine/platform/thread_pool.h"
#include "hearth/engine.h"

namespace hearth {

using models::str_cat;
namespace {

std::string embedding_only_error(const ModelInfo& info) {
  return str_cat("model '", info.name.empty() ? info.arch : info.name, "' is an embedding model (",
                 info.arch, "): it computes embeddings and cannot generate text");
}

}  // namespace

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
  // Sliding-window layers keep only their window (plus one batch) of positions.
  std::vector<int64_t> windows(static_cast<size_t>(hp.n_layer), 0);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    if (hp.layer_is_swa(il)) windows[il] = hp.n_swa;
  }
  cache_ = std::make_unique<KvCache>(cache_capacity, hp.n_head_kv, hp.head_dim, kv_type, windows,
                                     n_batch_);
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
  } catch (const std::system_error& e) {
    // The thread pool could not start its workers (in WebAssembly: more threads than the
    // module's pthread pool holds).
    return fail(str_cat("session: cannot start ", options.n_threads, " threads: ", e.what()));
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
