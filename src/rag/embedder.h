// An embedding model for RAG: loads a BERT-family GGUF through the engine (hearth::Model and
// Session::embed, the same path /v1/embeddings uses), applies the model's query/document
// prefixes and reports the identity a collection stores.
// Thread-safety: embed() and count_tokens() may be called from many threads; embeds run one at
// a time on the embedder's single Session (a mutex), token counting needs no lock.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/engine.h"
#include "hearth/status.h"

namespace hearth::rag {

// What a collection records about the model that embedded it. Two embedders are the same
// when model file sha256 and dimension match.
struct EmbedderIdentity {
  std::string model;  // what the user named (alias or path); "none" for BM25-only
  std::string path;   // the GGUF file, absolute
  std::string sha256;
  int dimension = 0;
  std::string pooling;  // "mean", "cls", "last", "none"
  std::string query_prefix;
  std::string document_prefix;
  int max_tokens = 0;  // the encoder's trained context (its maximum sequence)
};

struct Prefixes {
  std::string query;
  std::string document;
};
// The prefixes the model's card asks for, by name: bge (query instruction only), nomic
// (search_query: / search_document:), e5 (query: / passage:); none otherwise.
Prefixes prefixes_for(std::string_view model_name);

class Embedder {
 public:
  // Loads `gguf` (named `model_name` in the identity). Errors: the file cannot be loaded, or it
  // is not an embedding (encoder) model.
  static Result<std::unique_ptr<Embedder>> load(const std::string& model_name,
                                                const std::filesystem::path& gguf);

  const EmbedderIdentity& identity() const { return identity_; }
  // Tokens of `text` without special tokens.
  int count_tokens(std::string_view text) const;
  // Tokens a chunk may hold: the document prefix and the special tokens fit beside it within
  // the maximum sequence.
  int max_chunk_tokens() const;
  // L2-normalized embedding of a document chunk or a query (each with its prefix). A text
  // longer than the maximum sequence is cut to it; `truncated` (if given) says so.
  Result<std::vector<float>> embed(std::string_view text, bool is_query, bool* truncated = nullptr);

 private:
  Embedder() = default;
  std::shared_ptr<Model> model_;
  std::unique_ptr<Session> session_;
  std::mutex session_mutex_;
  EmbedderIdentity identity_;
};

}  // namespace hearth::rag
