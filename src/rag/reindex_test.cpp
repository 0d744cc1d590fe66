// Collection::reindex: migrating to another embedder through staging tables, interrupted and
// resumed, with the old index serving queries until the swap.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <fstream>

#include "engine/gguf/gguf.h"
#include "engine/models/synthetic.h"
#include "rag/collection.h"
#include "support/fixtures.h"

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;

class RagReindex : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth-reindex-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "docs");
    for (int i = 0; i < 5; ++i) {
      std::string text = "# Doc " + std::to_string(i) + "\n\n";
      for (int w = 0; w < 120; ++w) text += "word" + std::to_string((w * 7 + i) % 40) + " ";
      text += "\n\nunique" + std::to_string(i) + " marker.\n";
      write("d" + std::to_string(i) + ".md", text);
    }
    auto c = Collection::open("re", true, dir_ / "re.sqlite");
    ASSERT_TRUE(c) << c.error().message;
    c_ = std::move(*c);
    AddOptions o;
    o.chunking = ChunkOptions{64, 8};
    for (const auto& r : c_->add_paths({dir_ / "docs"}, nullptr, o))
      ASSERT_EQ(r.kind, FileOutcome::kAdded) << r.reason;
  }
  void TearDown() override {
    c_.reset();
    fs::remove_all(dir_);
  }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / "docs" / name, std::ios::binary) << text;
  }
  std::unique_ptr<Embedder> encoder(uint64_t seed) {
    const auto* shape = models::find_synthetic_shape("all-minilm-l6-v2");
    EXPECT_NE(shape, nullptr);
    auto vocab = gguf::File::open(testing::fixtures_dir() / shape->vocab_fixture);
    EXPECT_TRUE(vocab) << vocab.error().message;
    const fs::path path = dir_ / ("enc-" + std::to_string(seed) + ".gguf");
    EXPECT_TRUE(models::write_synthetic_model(*shape, "q8_0", *vocab, path, seed));
    auto e = Embedder::load("bge-enc-" + std::to_string(seed), path);
    EXPECT_TRUE(e) << e.error().message;
    return std::move(*e);
  }
  int64_t count(const char* table) {
    sqlite3* db = nullptr;
    sqlite3_open_v2((dir_ / "re.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
    sqlite3_stmt* st = nullptr;
    const std::string q = std::string("SELECT count(*) FROM ") + table;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, q.c_str(), -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
      n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
  }

  fs::path dir_;
  std::unique_ptr<Collection> c_;
};

TEST_F(RagReindex, InterruptedMigrationKeepsTheOldIndexAndResumes) {
  auto enc = encoder(1);
  const int64_t old_chunks = count("chunks");
  auto before = c_->query("unique3 marker", 3, nullptr);
  ASSERT_TRUE(before && !before->empty());

  ReindexOptions o;
  o.add.chunking = ChunkOptions{64, 8};
  o.max_documents = 2;  // what a kill after two documents leaves
  auto partial = c_->reindex(enc.get(), o);
  ASSERT_TRUE(partial) << partial.error().message;
  EXPECT_FALSE(partial->swapped);
  EXPECT_EQ(partial->staged, 2);
  // The old index is untouched and serves queries; the new embedder is not accepted yet.
  EXPECT_EQ((*c_->embedder_identity())->model, "none");
  EXPECT_EQ(count("chunks"), old_chunks);
  EXPECT_EQ(count("vectors"), 0);
  auto during = c_->query("unique3 marker", 3, nullptr);
  ASSERT_TRUE(during);
  EXPECT_EQ(during->front().path, before->front().path);
  auto refused = c_->query("unique3", 3, enc.get());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);

  o.max_documents = 0;
  auto done = c_->reindex(enc.get(), o);
  ASSERT_TRUE(done) << done.error().message;
  EXPECT_TRUE(done->swapped);
  EXPECT_EQ(done->already_staged, 2);
  EXPECT_EQ(done->staged, 3);  // resumed: only the three left
  EXPECT_EQ((*c_->embedder_identity())->sha256, enc->identity().sha256);
  EXPECT_EQ(count("vectors"), count("chunks"));
  EXPECT_EQ(count("chunks"), done->chunks);
  EXPECT_EQ(count("chunks_fts"), done->chunks);
  EXPECT_EQ(count("sqlite_master WHERE name LIKE 'reindex_%'"), 0);
  auto hits = c_->query("unique3 marker", 3, enc.get());
  ASSERT_TRUE(hits) << hits.error().message;
  ASSERT_FALSE(hits->empty());
  EXPECT_EQ(fs::path(hits->front().path).filename(), "d3.md");
  EXPECT_TRUE(hits->front().vector_rank.has_value());
}

TEST_F(RagReindex, AnotherTargetDiscardsStagedWorkAndChangedFilesAreReread) {
  auto enc = encoder(1);
  ReindexOptions o;
  o.add.chunking = ChunkOptions{64, 8};
  o.max_documents = 2;
  ASSERT_TRUE(c_->reindex(enc.get(), o));
  // Back to BM25-only instead: the two documents staged for the encoder are not reused.
  write("d1.md", "# Changed\n\nnewcontent here.\n");
  fs::remove(dir_ / "docs" / "d4.md");
  o.max_documents = 0;
  auto r = c_->reindex(nullptr, o);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_TRUE(r->swapped);
  EXPECT_EQ(r->already_staged, 0);
  EXPECT_EQ(r->staged, 5);
  EXPECT_EQ(r->changed, 1);
  EXPECT_EQ(r->gone, 1);
  EXPECT_EQ(c_->documents()->size(), 4u);
  auto hits = c_->query("newcontent", 3, nullptr);
  ASSERT_TRUE(hits && !hits->empty());
  EXPECT_EQ(fs::path(hits->front().path).filename(), "d1.md");
  EXPECT_FALSE(c_->query("unique4", 3, nullptr)->size());
  EXPECT_EQ(count("vectors"), 0);
}

}  // namespace
}  // namespace hearth::rag
