// HNSW: recall against the exact scan on random vectors, persistence, and a collection that
// switches to the index above its threshold and never uses an index built for other vectors.
#include "rag/hnsw_index.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <random>

#include "engine/gguf/gguf.h"
#include "engine/models/synthetic.h"
#include "rag/collection.h"
#include "support/fixtures.h"

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;

std::vector<float> random_unit_vectors(size_t n, size_t dim, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(n * dim);
  for (size_t i = 0; i < n; ++i) {
    double norm = 0;
    for (size_t j = 0; j < dim; ++j) {
      v[i * dim + j] = g(rng);
      norm += double(v[i * dim + j]) * v[i * dim + j];
    }
    for (size_t j = 0; j < dim; ++j) v[i * dim + j] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

std::vector<int64_t> exact_top(const std::vector<float>& data, const std::vector<int64_t>& ids,
                               const float* q, size_t dim, size_t k) {
  TopK top(k);
  for (size_t i = 0; i < ids.size(); ++i) top.offer(ids[i], dot(q, data.data() + i * dim, dim));
  std::vector<int64_t> out;
  for (const Ranked& r : top.take()) out.push_back(r.id);
  return out;
}

TEST(RagHnsw, RecallAgainstExactSearchOnRandomVectors) {
  const size_t n = 3000, dim = 384, k = 10, queries = 50;
  const auto data = random_unit_vectors(n, dim, 1);
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i) * 3 + 7;  // not 0..n-1
  auto index = HnswIndex::build(ids, data, dim, HnswParams{});
  ASSERT_TRUE(index) << index.error().message;
  EXPECT_EQ((*index)->size(), n);
  const auto qs = random_unit_vectors(queries, dim, 2);
  size_t found = 0;
  for (size_t q = 0; q < queries; ++q) {
    const auto truth = exact_top(data, ids, qs.data() + q * dim, dim, k);
    const auto got = (*index)->search(qs.data() + q * dim, k);
    ASSERT_EQ(got.size(), k);
    for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].score, got[i].score);
    for (const Ranked& r : got) found += std::find(truth.begin(), truth.end(), r.id) != truth.end();
  }
  const double recall = double(found) / double(queries * k);
  EXPECT_GE(recall, 0.95) << "recall@10 " << recall;

  // Saved and loaded: the same answers.
  const fs::path file = fs::temp_directory_path() / ("hearth-hnsw-" + std::to_string(getpid()));
  ASSERT_TRUE((*index)->save(file));
  auto loaded = HnswIndex::load(file, dim, HnswParams{});
  ASSERT_TRUE(loaded) << loaded.error().message;
  const auto a = (*index)->search(qs.data(), k);
  const auto b = (*loaded)->search(qs.data(), k);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id);
  fs::remove(file);
  EXPECT_FALSE(HnswIndex::build({1, 2}, std::vector<float>(3), 2, HnswParams{}));
}

TEST(RagHnsw, CollectionUsesTheIndexAboveItsThresholdAndRebuildsWhenVectorsChange) {
  const fs::path dir = fs::temp_directory_path() / ("hearth-hnsw-c-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "docs");
  for (int i = 0; i < 6; ++i) {
    std::string text;
    for (int w = 0; w < 60; ++w) text += "term" + std::to_string((w * 5 + i) % 30) + " ";
    std::ofstream(dir / "docs" / ("d" + std::to_string(i) + ".txt")) << text << "\n";
  }
  const auto* shape = models::find_synthetic_shape("all-minilm-l6-v2");
  ASSERT_NE(shape, nullptr);
  auto vocab = gguf::File::open(testing::fixtures_dir() / shape->vocab_fixture);
  ASSERT_TRUE(vocab) << vocab.error().message;
  ASSERT_TRUE(models::write_synthetic_model(*shape, "q8_0", *vocab, dir / "enc.gguf", 3));
  auto enc = Embedder::load("plain-enc", dir / "enc.gguf");
  ASSERT_TRUE(enc) << enc.error().message;
  auto c = Collection::open("hn", true, dir / "hn.sqlite");
  ASSERT_TRUE(c) << c.error().message;
  AddOptions o;
  o.chunking = ChunkOptions{24, 4};
  (*c)->add_paths({dir / "docs"}, enc->get(), o);
  const int64_t chunks = (*c)->info()->chunks;
  ASSERT_GT(chunks, 12);

  auto index_files = [&] {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.path().filename().string().find(".hnsw-") != std::string::npos)
        out.push_back(e.path().filename().string());
    return out;
  };
  (*c)->set_hnsw_threshold(static_cast<size_t>(chunks) + 1);
  QueryOptions vec{QueryMode::kVector};
  auto below = (*c)->query("term3 term8", 5, enc->get(), vec);
  ASSERT_TRUE(below) << below.error().message;
  EXPECT_FALSE((*c)->last_search_used_hnsw());
  EXPECT_TRUE(index_files().empty());

  (*c)->set_hnsw_threshold(10);
  auto above = (*c)->query("term3 term8", 5, enc->get(), vec);
  ASSERT_TRUE(above) << above.error().message;
  EXPECT_TRUE((*c)->last_search_used_hnsw());
  ASSERT_EQ(index_files().size(), 1u);
  const std::string first = index_files().front();
  // A collection this small is searched exhaustively by the graph: the same order as exact.
  QueryOptions exact{QueryMode::kVector, true};
  auto truth = (*c)->query("term3 term8", 5, enc->get(), exact);
  ASSERT_TRUE(truth);
  EXPECT_FALSE((*c)->last_search_used_hnsw());
  ASSERT_EQ(truth->size(), above->size());
  for (size_t i = 0; i < truth->size(); ++i)
    EXPECT_EQ((*truth)[i].char_start, (*above)[i].char_start);

  // New vectors: the old file is not used, a new one replaces it and finds the new chunk.
  std::ofstream(dir / "docs" / "new.txt") << "zebra zebra zebra\n";
  (*c)->add_paths({dir / "docs" / "new.txt"}, enc->get(), o);
  auto after = (*c)->query("zebra zebra zebra", 3, enc->get(), vec);
  ASSERT_TRUE(after);
  EXPECT_TRUE((*c)->last_search_used_hnsw());
  ASSERT_EQ(index_files().size(), 1u);
  EXPECT_NE(index_files().front(), first);
  ASSERT_FALSE(after->empty());
  // No prefixes for this model name: the query embeds exactly as the chunk did (cosine 1).
  EXPECT_EQ(fs::path(after->front().path).filename(), "new.txt");

  // Another process (a fresh Collection) loads the saved file instead of building.
  auto again = Collection::open("hn", false, dir / "hn.sqlite");
  ASSERT_TRUE(again);
  (*again)->set_hnsw_threshold(10);
  auto reread = (*again)->query("zebra zebra zebra", 3, enc->get(), vec);
  ASSERT_TRUE(reread);
  EXPECT_EQ(reread->front().path, after->front().path);
  c->reset();
  again->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hearth::rag
