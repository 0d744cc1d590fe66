// bm25_top against FTS5's own full ranking on a generated collection: the same chunks with the
// same scores in the same order (ties by id), for common-word, single-word, absent-word,
// repeated-word and multi-token questions and for n above the number of matches.
#include "rag/bm25.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "rag/collection.h"
#include "rag/read_snapshot.h"

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;

// Every match of the OR query with FTS5's score, sorted best first, ties by id.
std::vector<Ranked> full_ranking(sqlite3* db, const std::string& question) {
  std::vector<Ranked> out;
  const std::string match = fts5_query(question);
  if (match.empty()) return out;
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ?",
                               -1, &s, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(s, 1, match.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(s) == SQLITE_ROW)
    out.push_back(Ranked{sqlite3_column_int64(s, 0), -sqlite3_column_double(s, 1)});
  sqlite3_finalize(s);
  std::sort(out.begin(), out.end(), [](const Ranked& a, const Ranked& b) {
    return a.score != b.score ? a.score > b.score : a.id < b.id;
  });
  return out;
}

// One generated collection for the suite (filling it is the slow part).
class Bm25TopK : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("hearth-bm25-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto c = Collection::open("bm25", true, dir_ / "bm25.sqlite");
    ASSERT_TRUE(c) << c.error().message;
    ASSERT_TRUE((*c)->bind_embedder(nullptr));
    collection_ = std::move(*c);
    fill();
  }
  static void TearDownTestSuite() {
    collection_.reset();
    fs::remove_all(dir_);
  }

  // Chunks of 3..150 words (so lengths differ) from a Zipf-like vocabulary, with words that
  // fold together (case, diacritics) and words FTS5 splits into phrases ('_', '-').
  static void fill() {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "bm25.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "BEGIN; INSERT INTO documents(path, sha256, size, mtime, type, status, "
                           "chunk_count, indexed_at) VALUES ('/t', '', 0, 0, 'text', 'indexed', "
                           "0, 0)",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_stmt* chunk = nullptr;
    sqlite3_stmt* fts = nullptr;
    sqlite3_prepare_v2(db,
                       "INSERT INTO chunks(id, document_id, ord, text, char_start, char_end, "
                       "n_tokens) VALUES (?1, 1, ?1, ?2, 0, 1, 1)",
                       -1, &chunk, nullptr);
    sqlite3_prepare_v2(db, "INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)", -1, &fts, nullptr);
    const char* extras[] = {"Caf\xc3\xa9", "cafe", "CAFE", "foo_bar", "foo", "bar", "x-ray"};
    for (int64_t id = 1; id <= 3000; ++id) {
      std::string text;
      const int words = 3 + static_cast<int>(rng_() % 148);
      for (int w = 0; w < words; ++w) {
        text += rng_() % 40 == 0 ? extras[rng_() % 7] : word();
        text += ' ';
      }
      sqlite3_bind_int64(chunk, 1, id);
      sqlite3_bind_text(chunk, 2, text.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(fts, 1, id);
      sqlite3_bind_text(fts, 2, text.c_str(), -1, SQLITE_TRANSIENT);
      ASSERT_EQ(sqlite3_step(chunk), SQLITE_DONE);
      ASSERT_EQ(sqlite3_step(fts), SQLITE_DONE);
      sqlite3_reset(chunk);
      sqlite3_reset(fts);
      // Committed in several transactions so the index has several segments, and a few
      // rows deleted again (FTS5 keeps delete markers until segments merge).
      if (id % 700 == 0) {
        sqlite3_exec(db, "DELETE FROM chunks_fts WHERE rowid % 97 = 3; COMMIT; BEGIN", nullptr,
                     nullptr, nullptr);
      }
    }
    sqlite3_finalize(chunk);
    sqlite3_finalize(fts);
    ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }

  static std::string word() {
    // P(rank r) ~ 1/r over 2000 words: w0 is in nearly every chunk, most words in few.
    static const std::vector<double> weights = [] {
      std::vector<double> w(2000);
      for (size_t i = 0; i < w.size(); ++i) w[i] = 1.0 / double(i + 1);
      return w;
    }();
    std::discrete_distribution<size_t> zipf(weights.begin(), weights.end());
    return "w" + std::to_string(zipf(rng_));
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<Collection> collection_;
  static inline std::mt19937_64 rng_{5};
};

TEST_F(Bm25TopK, EqualsFts5FullRanking) {
  std::vector<std::string> questions = {
      "w0",                   // in nearly every chunk (IDF at its 1e-6 floor)
      "w0 w1 w2 w3",          // only common words: nothing can be pruned
      "w1999",                // rare
      "nothere",              // absent
      "nothere w5",           // absent and present
      "w3 w3 w40",            // a repeated word counts twice, as FTS5 counts it
      "Caf\xc3\xa9 cafe",     // fold to one term (two phrases)
      "foo_bar baz",          // a two-token phrase
      "x-ray w7",             // '-' splits the query word: "x" and "ray" alone
      "\xe2\x80\x94 w9",      // a word with no tokens for FTS5 (an em dash)
      "OR AND NOT NEAR w12",  // FTS5 keywords as text
      "W12 w12",              // case folds
  };
  for (int q = 0; q < 300; ++q) {
    std::string question;
    const int words = 1 + static_cast<int>(rng_() % 6);
    for (int w = 0; w < words; ++w) question += word() + (rng_() % 5 == 0 ? ", " : " ");
    questions.push_back(question);
  }
  auto conn = ReadSnapshot::open(dir_ / "bm25.sqlite");
  ASSERT_TRUE(conn);
  size_t compared = 0;
  for (const std::string& question : questions) {
    const std::vector<Ranked> truth = full_ranking(conn->db(), question);
    for (int n : {1, 10, 50, 400, 5000}) {
      auto got = bm25_top(conn->db(), question, n);
      ASSERT_TRUE(got) << got.error().message;
      const size_t expect = std::min(truth.size(), static_cast<size_t>(n));
      ASSERT_EQ(got->size(), expect) << question << " n=" << n;
      for (size_t i = 0; i < expect; ++i) {
        ASSERT_EQ((*got)[i].id, truth[i].id) << question << " n=" << n << " at " << i;
        // Same expression evaluated in the same order: the same double, not just close.
        ASSERT_EQ((*got)[i].score, truth[i].score) << question << " n=" << n << " at " << i;
      }
      compared += expect;
    }
    // The old path (FTS5 ORDER BY rank LIMIT) gives the same scores; its order among equal
    // scores is FTS5's.
    auto old = bm25_fts5_rank(conn->db(), question, 50);
    ASSERT_TRUE(old) << old.error().message;
    ASSERT_EQ(old->size(), std::min<size_t>(truth.size(), 50));
    for (size_t i = 0; i < old->size(); ++i) ASSERT_EQ((*old)[i].score, truth[i].score);
  }
  EXPECT_GT(compared, 10000u);  // the generated data gives the comparison something to check
}

TEST_F(Bm25TopK, QueryThroughTheCollectionAgreesWithTheOldPath) {
  for (const char* question : {"w3 w1500 w77", "w0 w1", "nothere"}) {
    auto fresh = collection_->query(question, 20, nullptr, {.mode = QueryMode::kBm25});
    auto old = collection_->query(question, 20, nullptr,
                                  {.mode = QueryMode::kBm25, .bm25_fts5_rank = true});
    ASSERT_TRUE(fresh && old);
    ASSERT_EQ(fresh->size(), old->size());
    for (size_t i = 0; i < fresh->size(); ++i) {
      EXPECT_EQ((*fresh)[i].bm25_score, (*old)[i].bm25_score);
      EXPECT_EQ((*fresh)[i].bm25_rank, static_cast<int>(i) + 1);
    }
  }
}

TEST_F(Bm25TopK, NoWordsNoResults) {
  auto conn = ReadSnapshot::open(dir_ / "bm25.sqlite");
  ASSERT_TRUE(conn);
  auto got = bm25_top(conn->db(), "*** -- ()", 10);
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->empty());
}

}  // namespace
}  // namespace hearth::rag
