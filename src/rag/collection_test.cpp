// Collections: BM25 retrieval, idempotent adds, one transaction per file, sync, WAL
// concurrency, embedder identity, and the engine's embedding path on a random-weight encoder.
#include "rag/collection.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "engine/gguf/gguf.h"
#include "engine/models/synthetic.h"
#include "rag/retrieval.h"
#include "support/fixtures.h"

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;

class RagCollection : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hearth-rag-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "docs");
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path write(const std::string& name, const std::string& text) {
    const fs::path p = dir_ / "docs" / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }
  std::unique_ptr<Collection> open() {
    auto c = Collection::open("test", true, dir_ / "test.sqlite");
    EXPECT_TRUE(c) << c.error().message;
    return std::move(*c);
  }
  int64_t chunk_count(Collection& c) { return c.info()->chunks; }

  fs::path dir_;
};

const char* kKeys =
    "# Keys\n\nTo rotate the signing keys, run keyctl rotate and restart the daemon.\n";
const char* kBackup = "# Backups\n\nNightly backups are written to the archive volume.\n";

TEST_F(RagCollection, Bm25FindsTheRightSpan) {
  auto c = open();
  write("keys.md", kKeys);
  write("backup.md", kBackup);
  write("latin1.txt", "caf\xe9");
  auto outcomes = c->add_paths({dir_ / "docs"}, nullptr, {});
  ASSERT_EQ(outcomes.size(), 3u);
  int skipped = 0;
  for (const auto& o : outcomes) skipped += o.kind == FileOutcome::kSkipped;
  EXPECT_EQ(skipped, 1);
  auto hits = c->query("how do I rotate the keys?", 3, nullptr);
  ASSERT_TRUE(hits) << hits.error().message;
  ASSERT_FALSE(hits->empty());
  const Hit& top = hits->front();
  EXPECT_EQ(fs::path(top.path).filename(), "keys.md");
  EXPECT_EQ(top.heading, "Keys");
  EXPECT_EQ(top.bm25_rank, 1);
  const std::string source = testing::read_file(top.path);
  EXPECT_EQ(source.substr(top.char_start, top.char_end - top.char_start), top.quote);
}

TEST_F(RagCollection, QueriesWithFts5SyntaxDoNotError) {
  auto c = open();
  write("keys.md", kKeys);
  c->add_paths({dir_ / "docs"}, nullptr, {});
  for (const char* q :
       {"\"keys", "rotate*", "NOT keys", "keys AND", "(daemon", "col:keys", "^rotate", "NEAR(a b",
        "- -", "***", "keys\" OR \"x", "\xc3\xa9t\xc3\xa9"}) {
    auto hits = c->query(q, 5, nullptr);
    EXPECT_TRUE(hits) << q << ": " << hits.error().message;
  }
  EXPECT_TRUE(c->query("***", 5, nullptr)->empty());
  EXPECT_EQ(c->query("", 5, nullptr).error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(c->query("keys", 0, nullptr).error().kind, ErrorKind::kInvalidInput);
  EXPECT_EQ(c->query("caf\xe9", 5, nullptr).error().kind, ErrorKind::kInvalidInput);
}

TEST_F(RagCollection, SameFileTwiceIsIdempotent) {
  auto c = open();
  const auto p = write("keys.md", kKeys);
  EXPECT_EQ(c->add_file(p, nullptr, {}).kind, FileOutcome::kAdded);
  const int64_t chunks = chunk_count(*c);
  EXPECT_EQ(c->add_file(p, nullptr, {}).kind, FileOutcome::kUnchanged);
  // The same file through another spelling of its path.
  EXPECT_EQ(c->add_file(dir_ / "docs" / ".." / "docs" / "keys.md", nullptr, {}).kind,
            FileOutcome::kUnchanged);
  EXPECT_EQ(chunk_count(*c), chunks);
  EXPECT_EQ(c->documents()->size(), 1u);
}

TEST_F(RagCollection, FailureMidFileRollsBackThatFileOnly) {
  auto c = open();
  std::string big;
  for (int i = 0; i < 400; ++i) big += "word" + std::to_string(i) + " ";
  const auto p = write("big.txt", big);
  write("keys.md", kKeys);
  ASSERT_EQ(c->add_file(dir_ / "docs" / "keys.md", nullptr, {}).kind, FileOutcome::kAdded);
  const int64_t before = chunk_count(*c);
  AddOptions crash;
  crash.chunking = ChunkOptions{32, 4};
  crash.after_chunk_written = [](int i) -> Status {
    if (i == 3) return fail("simulated crash after chunk 3");
    return ok();
  };
  const auto o = c->add_file(p, nullptr, crash);
  EXPECT_EQ(o.kind, FileOutcome::kFailed);
  EXPECT_NE(o.reason.find("simulated crash"), std::string::npos);
  EXPECT_EQ(chunk_count(*c), before);  // no partial chunks
  EXPECT_EQ(c->documents()->size(), 1u);
  EXPECT_TRUE(c->query("word7", 5, nullptr)->empty());
  // Re-running resumes: the file is added whole.
  AddOptions normal;
  normal.chunking = ChunkOptions{32, 4};
  const auto again = c->add_file(p, nullptr, normal);
  EXPECT_EQ(again.kind, FileOutcome::kAdded);
  EXPECT_EQ(chunk_count(*c), before + again.chunks);
  EXPECT_FALSE(c->query("word7", 5, nullptr)->empty());
}

TEST_F(RagCollection, SyncReindexesChangedAndDropsDeleted) {
  auto c = open();
  const auto keys = write("keys.md", kKeys);
  const auto backup = write("backup.md", kBackup);
  c->add_paths({dir_ / "docs"}, nullptr, {});
  write("keys.md",
        "# Keys\n\nKeys are now rotated by the vault service, automatically, every week.\n");
  fs::remove(backup);
  auto outcomes = c->sync(nullptr, {});
  ASSERT_EQ(outcomes.size(), 2u);
  int updated = 0, removed = 0;
  for (const auto& o : outcomes) {
    updated += o.kind == FileOutcome::kUpdated;
    removed += o.kind == FileOutcome::kRemoved;
  }
  EXPECT_EQ(updated, 1);
  EXPECT_EQ(removed, 1);
  EXPECT_TRUE(c->query("keyctl", 5, nullptr)->empty());
  EXPECT_FALSE(c->query("vault", 5, nullptr)->empty());
  EXPECT_TRUE(c->query("archive", 5, nullptr)->empty());
  EXPECT_TRUE(c->remove_document(keys));
  EXPECT_EQ(c->remove_document(keys).error().kind, ErrorKind::kNotFound);
  EXPECT_EQ(chunk_count(*c), 0);
}

TEST_F(RagCollection, AddsAndQueriesAtOnceNeverSeeLockErrors) {
  auto writer = open();
  write("seed.md", kKeys);
  writer->add_file(dir_ / "docs" / "seed.md", nullptr, {});
  for (int i = 0; i < 30; ++i)
    write("f" + std::to_string(i) + ".txt",
          "document " + std::to_string(i) + " about keys and locks");
  // A second Collection object on the same file behaves like another process.
  auto reader = open();
  std::atomic<bool> done{false};
  std::atomic<int> errors{0}, queries{0};
  std::string first_error;
  std::thread add([&] {
    for (int i = 0; i < 30; ++i) {
      auto o = writer->add_file(dir_ / "docs" / ("f" + std::to_string(i) + ".txt"), nullptr, {});
      if (o.kind != FileOutcome::kAdded) ++errors, first_error = o.reason;
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      while (!done) {
        auto hits = reader->query("keys", 5, nullptr);
        if (!hits) ++errors, first_error = hits.error().message;
        ++queries;
      }
    });
  }
  add.join();
  for (auto& r : readers) r.join();
  EXPECT_EQ(errors.load(), 0) << first_error;
  EXPECT_GT(queries.load(), 0);
  EXPECT_EQ(writer->documents()->size(), 31u);
}

TEST_F(RagCollection, NamesAreNeverPaths) {
  for (const char* bad : {"../x", "a/b", "", ".hidden", "x y"})
    EXPECT_FALSE(validate_collection_name(bad)) << bad;
  EXPECT_TRUE(validate_collection_name("docs-2.v1_x"));
  EXPECT_EQ(Collection::open("../evil", true).error().kind, ErrorKind::kInvalidInput);
}

TEST(RagRetrieval, Fts5QueryQuotesEveryWord) {
  EXPECT_EQ(fts5_query("how do I rotate?"), "\"how\" OR \"do\" OR \"I\" OR \"rotate\"");
  EXPECT_EQ(fts5_query("a\"b*c NOT d"), "\"a\" OR \"b\" OR \"c\" OR \"NOT\" OR \"d\"");
  EXPECT_EQ(fts5_query("*** -- ()"), "");
  EXPECT_EQ(fts5_query("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

TEST(RagRetrieval, ReciprocalRankFusion) {
  auto fused = reciprocal_rank_fusion({{1, 2, 3}, {3, 1}}, 60.0);
  ASSERT_EQ(fused.size(), 3u);
  EXPECT_EQ(fused[0].id, 1);  // 1/61 + 1/62
  EXPECT_NEAR(fused[0].score, 1.0 / 61 + 1.0 / 62, 1e-12);
  EXPECT_EQ(fused[1].id, 3);  // 1/63 + 1/61
  EXPECT_EQ(fused[2].id, 2);  // 1/62
  EXPECT_NEAR(fused[2].score, 1.0 / 62, 1e-12);
  EXPECT_TRUE(reciprocal_rank_fusion({}).empty());
}

TEST(RagRetrieval, TopKAndDot) {
  TopK top(2);
  for (int i = 0; i < 10; ++i) top.offer(i, (i * 7) % 10);
  auto best = top.take();
  ASSERT_EQ(best.size(), 2u);
  EXPECT_EQ(best[0].score, 9);
  EXPECT_EQ(best[1].score, 8);
  std::vector<float> a(37), b(37);
  double expect = 0;
  for (int i = 0; i < 37; ++i)
    a[i] = 0.5f * i, b[i] = 1.0f - 0.01f * i, expect += double(a[i]) * b[i];
  EXPECT_NEAR(dot(a.data(), b.data(), 37), expect, 1e-3);
}

// A random-weight BERT encoder with a real WordPiece vocabulary: the engine path, not quality.
fs::path synthetic_encoder(const fs::path& dir, uint64_t seed) {
  const auto* shape = models::find_synthetic_shape("all-minilm-l6-v2");
  EXPECT_NE(shape, nullptr);
  auto vocab = gguf::File::open(testing::fixtures_dir() / shape->vocab_fixture);
  EXPECT_TRUE(vocab) << vocab.error().message;
  const fs::path path = dir / ("bge-test-" + std::to_string(seed) + ".gguf");
  auto s = models::write_synthetic_model(*shape, "q8_0", *vocab, path, seed);
  EXPECT_TRUE(s) << s.error().message;
  return path;
}

TEST_F(RagCollection, EmbedderPlumbingAndIdentity) {
  auto embedder = Embedder::load("bge-test", synthetic_encoder(dir_, 1));
  ASSERT_TRUE(embedder) << embedder.error().message;
  const EmbedderIdentity& id = (*embedder)->identity();
  EXPECT_EQ(id.dimension, 384);
  EXPECT_EQ(id.max_tokens, 512);
  EXPECT_EQ(id.pooling, "mean");
  EXPECT_EQ(id.query_prefix,
            "Represent this sentence for searching relevant passages: ");  // "bge" in the name
  EXPECT_EQ(id.sha256.size(), 64u);

  auto c = open();
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "token" + std::to_string(i % 50) + " ";
  write("long.txt", long_text);
  write("keys.md", kKeys);
  AddOptions options;
  options.chunking = ChunkOptions{2000, 32};  // asks for more than the encoder's 512
  for (const auto& o : c->add_paths({dir_ / "docs"}, embedder->get(), options)) {
    EXPECT_EQ(o.kind, FileOutcome::kAdded) << o.path << ": " << o.reason;
  }
  auto stored = c->embedder_identity();
  ASSERT_TRUE(stored && *stored);
  EXPECT_EQ((*stored)->sha256, id.sha256);
  auto hits = c->query("rotate the keys", 3, embedder->get());
  ASSERT_TRUE(hits) << hits.error().message;
  ASSERT_FALSE(hits->empty());
  bool any_vector = false;
  for (const Hit& h : *hits) any_vector = any_vector || h.vector_rank.has_value();
  EXPECT_TRUE(any_vector);
  EXPECT_EQ(fs::path(hits->front().path).filename(),
            "keys.md");  // BM25 and vectors agree or BM25 wins ties
  // Chunks respect the encoder's maximum sequence: counted while chunking, and as the whole
  // chunk tokenizes (with the special tokens) when it is embedded.
  auto docs = c->documents();
  ASSERT_TRUE(docs);
  for (const auto& d : *docs) EXPECT_GE(d.chunks, 1);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ / "test.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT text, n_tokens FROM chunks", -1, &st, nullptr),
            SQLITE_OK);
  int rows = 0, biggest = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string text(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    const int counted = sqlite3_column_int(st, 1);
    EXPECT_LE(counted, (*embedder)->max_chunk_tokens());
    EXPECT_LE((*embedder)->count_tokens(text) + 2, id.max_tokens);
    biggest = std::max(biggest, counted);
    ++rows;
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_GT(rows, 2);
  EXPECT_GT(biggest, 400);  // the 2000-token request was capped near 510, not at 256

  // Another model (different weights, same shape) is refused, naming both.
  auto other = Embedder::load("other-model", synthetic_encoder(dir_, 2));
  ASSERT_TRUE(other) << other.error().message;
  auto refused = c->query("keys", 3, other->get());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kConflict);
  EXPECT_NE(refused.error().message.find("bge-test"), std::string::npos) << refused.error().message;
  EXPECT_NE(refused.error().message.find("other-model"), std::string::npos)
      << refused.error().message;
  EXPECT_EQ(c->bind_embedder(nullptr).error().kind, ErrorKind::kConflict);
  // BM25-only queries still work on a collection with vectors.
  EXPECT_TRUE(c->query("keys", 3, nullptr));
}

TEST(RagEmbedder, PrefixesByModelName) {
  EXPECT_EQ(prefixes_for("nomic-embed-text").query, "search_query: ");
  EXPECT_EQ(prefixes_for("nomic-embed-text").document, "search_document: ");
  EXPECT_EQ(prefixes_for("multilingual-E5-small").document, "passage: ");
  EXPECT_EQ(prefixes_for("bge-small").document, "");
  EXPECT_TRUE(prefixes_for("all-minilm").query.empty());
}

}  // namespace
}  // namespace hearth::rag
