// HnswIndex over hnswlib, with hearth's own dot product as the distance (hnswlib picks its
// SIMD paths at compile time from -mavx flags hearth does not build with).
#include "rag/hnsw_index.h"

// hnswlib's SSE path prefetches the neighbour after the last one of a full link list, a read
// past the list's allocation (AddressSanitizer reports it); without it only the prefetches go,
// since the distance is hearth's own dot product (kernels), not hnswlib's SIMD spaces.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

namespace hearth::rag {
namespace {

float dot_distance(const void* a, const void* b, const void* param) {
  const size_t dim = *static_cast<const size_t*>(param);
  return 1.0f - dot(static_cast<const float*>(a), static_cast<const float*>(b), dim);
}

class DotSpace : public hnswlib::SpaceInterface<float> {
 public:
  explicit DotSpace(size_t dim) : dim_(dim) {}
  size_t get_data_size() override { return dim_ * sizeof(float); }
  hnswlib::DISTFUNC<float> get_dist_func() override { return dot_distance; }
  void* get_dist_func_param() override { return &dim_; }

 private:
  size_t dim_;
};

}  // namespace

size_t default_ef_search(size_t vectors) {
  return std::min<size_t>(8192, std::max<size_t>(400, vectors * 32 / 1000));
}

struct HnswIndex::Impl {
  explicit Impl(size_t dim) : space(dim) {}
  DotSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
};

HnswIndex::HnswIndex(std::unique_ptr<Impl> impl, size_t dim) : impl_(std::move(impl)), dim_(dim) {}
HnswIndex::~HnswIndex() = default;

Result<std::unique_ptr<HnswIndex>> HnswIndex::build(const std::vector<int64_t>& ids,
                                                    const std::vector<float>& vectors, size_t dim,
                                                    const HnswParams& params) {
  if (dim == 0 || vectors.size() != ids.size() * dim)
    return invalid_input("HNSW build: " + std::to_string(vectors.size()) + " floats for " +
                         std::to_string(ids.size()) + " ids of dimension " + std::to_string(dim));
  auto impl = std::make_unique<Impl>(dim);
  try {
    impl->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &impl->space, std::max<size_t>(ids.size(), 1), params.m, params.ef_construction,
        params.seed);
    impl->graph->setEf(params.ef_search);
    // hnswlib's addPoint may run from several threads once the entry point exists.
    if (!ids.empty())
      impl->graph->addPoint(vectors.data(), static_cast<hnswlib::labeltype>(ids[0]));
    const unsigned threads =
        std::max(1u, params.threads ? params.threads : std::thread::hardware_concurrency());
    std::atomic<size_t> next{1};
    std::atomic<bool> failed{false};
    std::string failure;
    std::mutex failure_mutex;
    auto work = [&] {
      try {
        for (size_t i; !failed && (i = next++) < ids.size();)
          impl->graph->addPoint(vectors.data() + i * dim, static_cast<hnswlib::labeltype>(ids[i]));
      } catch (const std::exception& e) {
        std::lock_guard lock(failure_mutex);
        failure = e.what();
        failed = true;
      }
    };
    std::vector<std::thread> pool;
    for (unsigned t = 1; t < threads; ++t) {
      try {
        pool.emplace_back(work);
      } catch (const std::system_error&) {
        break;  // fewer threads, same index
      }
    }
    work();
    for (auto& t : pool) t.join();
    if (failed) return fail(ErrorKind::kResourceExhausted, "HNSW build failed: " + failure);
  } catch (const std::exception& e) {
    return fail(ErrorKind::kResourceExhausted, std::string("HNSW build failed: ") + e.what());
  }
  return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl), dim));
}

Result<std::unique_ptr<HnswIndex>> HnswIndex::load(const std::filesystem::path& file, size_t dim,
                                                   const HnswParams& params) {
  auto impl = std::make_unique<Impl>(dim);
  try {
    impl->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(&impl->space, file.string());
    impl->graph->setEf(params.ef_search);
  } catch (const std::exception& e) {
    return fail(ErrorKind::kDataLoss,
                "cannot load the HNSW index " + file.string() + ": " + e.what());
  }
  return std::unique_ptr<HnswIndex>(new HnswIndex(std::move(impl), dim));
}

Status HnswIndex::save(const std::filesystem::path& file) const {
  const std::filesystem::path tmp = file.string() + ".tmp" + std::to_string(::getpid());
  try {
    impl_->graph->saveIndex(tmp.string());
  } catch (const std::exception& e) {
    return fail(ErrorKind::kUnavailable, "cannot write " + tmp.string() + ": " + e.what());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    return fail(ErrorKind::kUnavailable, "cannot rename the HNSW index into " + file.string());
  }
  return ok();
}

std::vector<Ranked> HnswIndex::search(const float* query, size_t k) const {
  std::vector<Ranked> out;
  if (impl_->graph->cur_element_count == 0 || k == 0) return out;
  try {
    auto found = impl_->graph->searchKnn(query, k);
    out.resize(found.size());
    for (size_t i = found.size(); i-- > 0; found.pop())  // the queue pops the farthest first
      out[i] = Ranked{static_cast<int64_t>(found.top().second), 1.0 - found.top().first};
  } catch (const std::exception&) {
    out.clear();  // only a bad_alloc can get here; no results rather than a crash
  }
  return out;
}

size_t HnswIndex::size() const {
  return impl_->graph->cur_element_count;
}

}  // namespace hearth::rag
