// OpenAI vector stores over hearth's collections. A vector store IS a collection: the store
// "vs_NAME" is the collection NAME ($HEARTH_HOME/rag/NAME.sqlite), so `hearth rag list` shows
// stores made over HTTP and GET /v1/vector_stores shows collections made by the CLI. What
// OpenAI's objects hold beyond a collection lives in the collection's own database: the
// store's display name, created_at and metadata in its `meta` table (keys vector_store.*),
// and one row per attached upload in `vector_store_files` (file id, status, last error,
// attributes), so deleting the collection deletes all of it.
//
// Attaching a file ingests it synchronously (parse, chunk, embed if the collection has an
// embedder, index; one transaction), so a file's status is final when the call returns.
//
// Thread-safety: every method may be called from many threads; each call opens the
// collection it needs (SQLite WAL serializes writers, readers never wait).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/status.h"
#include "rag/collection.h"
#include "rag/file_store.h"
#include "rag/filters.h"

namespace hearth::rag {

// "vs_" + the collection name.
std::string vector_store_id(const std::string& collection);
// The collection a store id names; kNotFound (as OpenAI answers an unknown id) when `id` is
// not "vs_" followed by a valid collection name, so no id can name a path.
Result<std::string> collection_of_store_id(std::string_view id);
// The collection name for a new store called `name` (free text in OpenAI's API): the name
// itself when it is a valid collection name that `taken` says is free; else its slug (letters,
// digits, '-', '_' and '.' kept, others become '-', at most 40, no leading '.' or '-') when that
// is free; else the slug (or "store") plus '-' and 8 random hex digits.
std::string collection_name_for(std::string_view name,
                                const std::function<bool(const std::string&)>& taken);

struct VectorStoreInfo {
  std::string id;
  std::string collection;
  std::string name;
  int64_t created_at = 0;
  int64_t usage_bytes = 0;
  int64_t completed = 0;  // indexed documents
  int64_t failed = 0;     // skipped documents (unparsable)
  nlohmann::ordered_json metadata = nullptr;
};

struct VectorStoreFile {
  std::string file_id;  // an upload's id, or "local:" + path for a document the CLI added
  std::string vector_store_id;
  std::string filename;
  int64_t created_at = 0;
  int64_t usage_bytes = 0;
  std::string status;      // "completed" or "failed"
  std::string error_code;  // failed: "invalid_file" (unparsable) or "server_error"
  std::string error_message;
  nlohmann::ordered_json attributes = nullptr;
};

struct StoreHit {
  std::string file_id;
  std::string filename;
  double score = 0;  // 0..1: reciprocal-rank fusion scaled so a first place in every list is 1
  nlohmann::ordered_json attributes = nullptr;
  Hit hit;
};

struct VectorStoresOptions {
  std::filesystem::path files_dir;  // uploads ($HEARTH_HOME/files)
  // The embedder a new store gets (a BERT-family GGUF); empty: new stores are BM25-only.
  std::string embedder_name;
  std::filesystem::path embedder_path;
};

class VectorStores {
 public:
  static Result<std::unique_ptr<VectorStores>> open(VectorStoresOptions options);

  FileStore& files() { return *files_; }

  // Creates a store (a new collection) and attaches `file_ids`; a file that fails to ingest
  // is recorded as failed, not an Error. kNotFound for an unknown file id.
  Result<VectorStoreInfo> create(std::string_view name, const nlohmann::ordered_json& metadata,
                                 const std::vector<std::string>& file_ids);
  // Newest first.
  Result<std::vector<VectorStoreInfo>> list() const;
  Result<VectorStoreInfo> get(std::string_view store_id) const;
  Status remove(std::string_view store_id);
  // Changes the display name and/or the metadata (null: left as is).
  Result<VectorStoreInfo> update(std::string_view store_id, const std::optional<std::string>& name,
                                 const nlohmann::ordered_json& metadata);

  Result<VectorStoreFile> attach(std::string_view store_id, std::string_view file_id,
                                 const nlohmann::ordered_json& attributes);
  Result<std::vector<VectorStoreFile>> files_of(std::string_view store_id) const;
  Result<VectorStoreFile> file_of(std::string_view store_id, std::string_view file_id) const;
  Status detach(std::string_view store_id, std::string_view file_id);
  // Detaches `file_id` from every store that holds it (DELETE /v1/files/{id}: a deleted file's
  // chunks must not stay searchable). Stops at the first store that fails.
  Status detach_everywhere(std::string_view file_id);

  // The best `k` chunks for `query` that pass `filter`, best first.
  Result<std::vector<StoreHit>> search(std::string_view store_id, const std::string& query, int k,
                                       const std::optional<Filter>& filter) const;

 private:
  VectorStores() = default;
  // The collection's embedder, loaded once per model file; null: BM25-only.
  Result<Embedder*> embedder_for(Collection& c) const;
  Result<VectorStoreInfo> info_of(const std::string& collection) const;

  VectorStoresOptions options_;
  std::unique_ptr<FileStore> files_;
  mutable std::mutex embedders_mutex_;
  mutable std::map<std::string, std::unique_ptr<Embedder>> embedders_;  // by GGUF path
};

}  // namespace hearth::rag
