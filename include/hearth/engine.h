// hearth's inference API: load a model once, run any number of conversations on it.
//
//   auto model = hearth::Model::load("model.gguf");          // Result<shared_ptr<Model>>
//   hearth::Session session(*model);
//   auto ids = (*model)->tokenizer().encode("Hello", true, true);
//   if (auto s = session.decode(ids); !s) { /* s.error().message */ }
//   std::span<const float> next = session.logits();          // n_vocab logits
//
// Ownership and threads:
// - `Model` holds the memory-mapped GGUF file (or the buffer given to `load_from_memory`), the
//   weights bound into it, the hyper-parameters and the tokenizer. It is immutable after
//   `load` (or `load_from_memory`); share it through shared_ptr between any number of
//   sessions and threads.
// - `Session` is one conversation: it owns a KV cache (sized for its context), scratch
//   buffers and a thread pool, and keeps the model alive. It is not thread-safe: drive each
//   session from one thread at a time. Sessions are independent of each other.
// - Errors (bad file, unsupported tensor type, context overflow, invalid token) are values,
//   never exceptions or crashes. A failed decode leaves the session as it was.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "hearth/model_info.h"
#include "hearth/status.h"

namespace hearth {

namespace gguf {
class File;
}
namespace models {
struct ModelWeights;
}
class KvCache;
class ThreadPool;
class Tokenizer;

class Model {
 public:
  // Maps the file, validates every tensor against the hyper-parameters and loads the
  // tokenizer. An Error names the missing key or tensor, the wrong shape or the type that
  // hearth cannot compute with.
  static Result<std::shared_ptr<Model>> load(const std::filesystem::path& gguf,
                                             const ModelOptions& options = {});
  // The same from a GGUF file's bytes already in memory (fetched over the network, or a
  // build without file mapping). The Model owns the buffer: the weights point into it, so it
  // is held for the Model's lifetime and not copied. Errors name "GGUF in memory" instead of
  // a path.
  static Result<std::shared_ptr<Model>> load_from_memory(std::vector<uint8_t> gguf_bytes,
                                                         const ModelOptions& options = {});
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelInfo& info() const;
  const ModelOptions& options() const;  // as resolved at load (no zeros)
  const Tokenizer& tokenizer() const;
  const gguf::File& file() const;
  // Engine internals (bound weights); for the forward pass and tests.
  const models::ModelWeights& weights() const;
  // Loading leaves one job for later: moving the rewritten weights into huge pages (decoding
  // is faster once it ends). It starts after the first forward pass of any session, so that
  // it does not delay the first token, and runs on a background thread. This starts it if
  // needed and blocks until it is done (for benchmarks that want the steady state).
  // Thread-safe.
  void finish_background_work() const;

 private:
  friend class Session;  // starts the background work after its first forward pass
  struct State;
  explicit Model(std::unique_ptr<State> state);
  static Status check_options(const ModelOptions& options);
  // Binds the weights and the tokenizer of an opened file; `label` (its path) prefixes errors.
  static Result<std::shared_ptr<Model>> from_gguf(gguf::File file, const std::string& label,
                                                  const ModelOptions& options);
  void start_background_work() const;
  std::unique_ptr<State> state_;
};

struct SessionOptions {
  int n_ctx = 0;      // 0 = the model's default; positions beyond it are an Error
  int n_threads = 0;  // 0 = the model's default
  int n_batch = 512;  // tokens evaluated per forward pass; bounds scratch memory
  // Q8_0 needs a head_dim that is a multiple of 32; other models get F16 instead.
  KvCacheType kv_type = kDefaultKvCacheType;
  // Borrowed pool to run on instead of an own one of n_threads (e.g. one pool serving several
  // sessions that decode in turn). It must outlive the session and may serve only one decode
  // at a time.
  ThreadPool* pool = nullptr;
};

class Session;

// One session's part of Session::decode_batch.
struct DecodeRequest {
  Session* session = nullptr;
  std::span<const int32_t> tokens;
  bool all_logits = false;
};

class Session {
 public:
  // Allocates the KV cache for the whole context up front. Prefer `create` where the context
  // comes from outside (a request, a config file): it reports an impossible size as an Error.
  explicit Session(std::shared_ptr<const Model> model, const SessionOptions& options = {});
  // Like the constructor, but a negative option, a context beyond 1M positions or a cache
  // that cannot be allocated is an Error instead of an exception.
  static Result<Session> create(std::shared_ptr<const Model> model,
                                const SessionOptions& options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;

  // Evaluates `tokens` at positions n_past() .. n_past() + size - 1 (in batches of n_batch)
  // and appends them to the cache. Logits are kept for the last token, or for every token
  // when `all_logits`. Errors: empty input, a token outside the vocabulary, or context
  // overflow (n_past() + size > n_ctx()), an embedding-only model; the session is then
  // unchanged.
  Status decode(std::span<const int32_t> tokens, bool all_logits = false);

  // Decodes several sessions in one forward pass, so every weight is read once for all of
  // their tokens: N conversations advancing a token each cost little more than one. For each
  // session the effect is that of session->decode(tokens, all_logits). The sessions must be
  // distinct and share one Model; the pass runs on the first session's thread pool and
  // scratch, so none of them may be in use elsewhere meanwhile. Any Error (one request's,
  // or a misuse) is found before anything runs and leaves every session unchanged. When the
  // tokens together exceed the first session's n_batch, sessions are decoded one by one.
  static Status decode_batch(std::span<const DecodeRequest> requests);

  // Logits (n_vocab floats) after the i-th token of the last decode; -1 = its last token.
  // Only the last token's row exists unless the decode asked for all logits; an index with
  // no row gives an empty span. Valid until the next decode or rewind.
  std::span<const float> logits(int i = -1) const;
  // Rows available from the last decode.
  int n_logits() const { return n_logit_rows_; }

  int32_t n_past() const;
  int32_t n_ctx() const;
  // Memory held by the KV cache (allocated up front: all n_ctx() positions, or for a
  // sliding-window layer its window plus one batch).
  size_t kv_cache_bytes() const;
  // Forgets every position >= n_past (clamped to [0, n_past()]), keeping the prefix's cache,
  // so a conversation can continue from an earlier turn. Clears the logits. A model with
  // sliding-window layers (gemma3) keeps only recent positions there: rewinding behind them
  // clears the whole cache, so read n_past() afterwards for what is kept.
  void rewind(int32_t n_past);

  // Embedding of a token sequence, n_embd floats, scaled to L2 norm 1 when `normalize`.
  // Decoders: the mean over its tokens of the final hidden states (after the output norm),
  // computed on this session's cache from position 0, so it clears the conversation (n_past()
  // is 0 and the logits are empty afterwards). Embedding-only models (encoders): the whole
  // sequence in one pass, pooled as the model says (mean, first token or last token); pass
  // the tokenizer's output with its special tokens ([CLS] ... [SEP]). Errors: empty input,
  // a token outside the vocabulary, more tokens than n_ctx() (or, for an encoder, than its
  // trained context); the session is then unchanged.
  Result<std::vector<float>> embed(std::span<const int32_t> tokens, bool normalize = true);

  const Model& model() const { return *model_; }
  const std::shared_ptr<const Model>& model_ptr() const { return model_; }

 private:
  struct Scratch;
  Status check_decode(std::span<const int32_t> tokens) const;
  void prepare_logits(int64_t n_tokens, bool all_logits);
  Result<std::vector<float>> embed_encoder(std::span<const int32_t> tokens, bool normalize);

  std::shared_ptr<const Model> model_;
  int n_ctx_ = 0;
  int n_batch_ = 512;
  std::unique_ptr<KvCache> cache_;
  std::unique_ptr<ThreadPool> own_pool_;  // null when borrowing
  ThreadPool* pool_ = nullptr;
  std::unique_ptr<Scratch> scratch_;
  std::vector<float> logits_;
  int n_logit_rows_ = 0;
  int n_last_decode_ = 0;  // tokens in the last decode
  bool all_logits_ = false;
};

}  // namespace hearth
