#include "rag/embedder.h"

#include <algorithm>
#include <cctype>

#include "catalog/cache.h"
#include "engine/models/model_weights.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth::rag {

Prefixes prefixes_for(std::string_view model_name) {
  std::string name(model_name);
  std::transform(name.begin(), name.end(), name.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (name.find("nomic") != std::string::npos) return {"search_query: ", "search_document: "};
  if (name.find("bge") != std::string::npos)
    return {"Represent this sentence for searching relevant passages: ", ""};
  if (name.find("e5") != std::string::npos) return {"query: ", "passage: "};
  return {};
}

namespace {
const char* pooling_name(models::Pooling p) {
  switch (p) {
    case models::Pooling::kMean: return "mean";
    case models::Pooling::kCls: return "cls";
    case models::Pooling::kLast: return "last";
    case models::Pooling::kNone: return "none";
  }
  return "none";
}
}  // namespace

Result<std::unique_ptr<Embedder>> Embedder::load(const std::string& model_name,
                                                 const std::filesystem::path& gguf) {
  std::error_code ec;
  const auto absolute = std::filesystem::absolute(gguf, ec);
  auto model = Model::load(absolute);
  if (!model) return std::unexpected(model.error());
  if (!(*model)->info().embedding_only)
    return invalid_input("'" + model_name + "' (" + (*model)->info().arch +
                         ") is not an embedding model; use a BERT-family GGUF or --embed none");
  auto sha = catalog::sha256_file(absolute);
  if (!sha) return std::unexpected(sha.error());
  std::unique_ptr<Embedder> e(new Embedder());
  e->model_ = std::move(*model);
  const ModelInfo& info = e->model_->info();
  SessionOptions options;
  options.n_ctx = std::max(8, info.n_ctx_train);
  auto session = Session::create(e->model_, options);
  if (!session) return std::unexpected(session.error());
  e->session_ = std::make_unique<Session>(std::move(*session));
  const Prefixes prefixes =
      prefixes_for(model_name + " " + absolute.filename().string() + " " + info.name);
  e->identity_ = EmbedderIdentity{model_name,
                                  absolute.string(),
                                  *sha,
                                  info.n_embd,
                                  pooling_name(e->model_->weights().hp.pooling),
                                  prefixes.query,
                                  prefixes.document,
                                  std::min(info.n_ctx_train, e->session_->n_ctx())};
  return e;
}

int Embedder::count_tokens(std::string_view text) const {
  return static_cast<int>(model_->tokenizer().encode(text, false, false).size());
}

int Embedder::max_chunk_tokens() const {
  const int reserved = count_tokens(identity_.document_prefix) + 2;  // [CLS] ... [SEP]
  return std::max(8, identity_.max_tokens - reserved);
}

Result<std::vector<float>> Embedder::embed(std::string_view text, bool is_query, bool* truncated) {
  std::string input(is_query ? identity_.query_prefix : identity_.document_prefix);
  input.append(text);
  std::vector<int32_t> ids = model_->tokenizer().encode(input, true, false);
  if (ids.empty()) return invalid_input("nothing to embed: the text has no tokens");
  const bool cut = static_cast<int>(ids.size()) > identity_.max_tokens;
  if (cut) {
    // Keep the closing special token ([SEP]) the encoder was trained to see.
    const int32_t last = ids.back();
    ids.resize(static_cast<size_t>(identity_.max_tokens));
    ids.back() = last;
  }
  if (truncated) *truncated = cut;
  std::lock_guard lock(session_mutex_);
  return session_->embed(ids, /*normalize=*/true);
}

}  // namespace hearth::rag
