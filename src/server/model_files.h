// GET /v1/models/{id}/file: the GGUF file behind a model id, for clients that run the model
// themselves (the browser engine of docs/wasm.md). Served:
//   - a model this server has loaded (started with -m, or loaded on demand): its file;
//   - a catalog alias (or alias:quant, hf://...) whose file is in the cache (nothing is
//     downloaded here: a missing one is a 404 saying `hearth model download NAME`).
// A name that resolves to a path on disk is never served unless that model is loaded, so the
// route cannot read arbitrary files.
//
// The answer streams the file (never read whole into memory) with Accept-Ranges, a single
// Range (206 + Content-Range; 416 when unsatisfiable), If-Range, ETag = the file's sha256 in
// quotes (If-None-Match -> 304) and Cross-Origin-Resource-Policy: same-origin. The sha256 is
// the catalog's verified record for cached files; other files are hashed once, on first
// request, and remembered for the process (keyed by path, size and mtime).
//
// Thread-safety: all methods may be called from many worker threads; the hash memo is
// guarded, and two requests for a file being hashed wait for the same computation.
#pragma once

#include <cstdint>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "catalog/catalog.h"
#include "http/http.h"
#include "server/api_error.h"
#include "server/model_registry.h"

namespace hearth::server {

struct ModelFile {
  std::filesystem::path path;
  uint64_t size = 0;
  std::string sha256;  // lower-case hex
};

// One satisfiable byte range [first, last] of a file of `size` bytes.
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
};

// Reads a Range header for a file of `size` bytes (RFC 9110 14.2): nullopt when the header is
// absent, malformed or asks for several ranges (the whole file is then sent, as the RFC
// allows); an unsatisfiable single range gives `unsatisfiable`.
struct RangeRequest {
  std::optional<ByteRange> range;
  bool unsatisfiable = false;
};
RangeRequest parse_range(std::string_view header, uint64_t size);

class ModelFiles {
 public:
  // `registry` and `catalog` must outlive this object.
  ModelFiles(const ModelRegistry& registry, std::shared_ptr<const catalog::Catalog> catalog,
             std::filesystem::path home);

  // The file for `id`, with its sha256 (hashed now if it was never hashed).
  ApiResult<ModelFile> find(const std::string& id);
  // The whole answer to GET/HEAD /v1/models/{id}/file.
  http::Response serve(const http::Request& req, const std::string& id);

 private:
  Result<std::string> sha256_of(const std::filesystem::path& path, uint64_t size);

  const ModelRegistry& registry_;
  std::shared_ptr<const catalog::Catalog> catalog_;
  std::filesystem::path home_;

  std::mutex mutex_;
  // "path\nsize\nmtime" -> the hash, computed once (shared by concurrent first requests).
  std::map<std::string, std::shared_future<Result<std::string>>> hashes_;
};

}  // namespace hearth::server
