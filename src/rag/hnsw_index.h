// An approximate nearest-neighbour index (HNSW, through Debian's header-only hnswlib) over a
// collection's normalized vectors, for collections too large for the exact scan to be quick.
// Similarity is the dot product (cosine: vectors are normalized), computed by rag::dot.
//
// Ownership and threads: an HnswIndex owns its graph. search() is const and may run from many
// threads at once; build and load make a new index. hnswlib reports errors by exceptions:
// they are caught here and returned as Errors.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "hearth/status.h"
#include "rag/retrieval.h"

namespace hearth::rag {

// Collections with at least this many vectors are searched through an HNSW index (built once
// per change of the vectors and kept next to the database); smaller ones by the exact scan,
// which is fast enough below it (docs/rag.md "Vector search").
inline constexpr size_t kHnswThreshold = 20000;

// The search candidate list a collection of `vectors` gets: 400, growing past 12 500 vectors
// as vectors * 32 / 1000 (3200 at 100k), at most 8192. Measured on random 384-d unit vectors
// (the hard case) to keep recall@10 against the exact scan >= 0.99 at 10k and 100k
// (docs/rag.md "Vector search at scale"); beyond 100k the rule is extrapolated.
size_t default_ef_search(size_t vectors);

struct HnswParams {
  size_t m = 32;                 // links per node: high-dimensional data needs many
  size_t ef_construction = 200;  // candidate list while building
  size_t ef_search = 400;        // candidate list while searching (at least the k asked)
                                 // Collection uses default_ef_search(its size)
  uint64_t seed = 100;
  unsigned threads = 0;  // building: 0 = one per core
};

class HnswIndex {
 public:
  ~HnswIndex();
  HnswIndex(const HnswIndex&) = delete;
  HnswIndex& operator=(const HnswIndex&) = delete;

  // `vectors` holds ids.size() rows of `dim` floats.
  static Result<std::unique_ptr<HnswIndex>> build(const std::vector<int64_t>& ids,
                                                  const std::vector<float>& vectors, size_t dim,
                                                  const HnswParams& params);
  static Result<std::unique_ptr<HnswIndex>> load(const std::filesystem::path& file, size_t dim,
                                                 const HnswParams& params);
  // Writes to a temporary file beside `file` and renames it, so a reader sees all or nothing.
  Status save(const std::filesystem::path& file) const;

  // The k most similar ids, best first, with their dot products.
  std::vector<Ranked> search(const float* query, size_t k) const;
  size_t size() const;
  size_t dim() const { return dim_; }

 private:
  struct Impl;
  explicit HnswIndex(std::unique_ptr<Impl> impl, size_t dim);
  std::unique_ptr<Impl> impl_;
  size_t dim_;
};

}  // namespace hearth::rag
