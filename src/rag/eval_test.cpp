// rag eval: qrels parsing, document matching and the metrics on hand-computed cases, then a
// whole evaluation over a small collection whose answers are known.
#include "rag/eval.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

namespace hearth::rag {
namespace {

namespace fs = std::filesystem;
using V = std::vector<std::string>;

TEST(RagEvalMetrics, RecallCountsRelevantInTheFirstK) {
  const V ranked = {"a", "x", "b", "y", "z", "c"};
  const V relevant = {"a", "b", "c", "d"};
  EXPECT_DOUBLE_EQ(recall_at(ranked, relevant, 1), 0.25);
  EXPECT_DOUBLE_EQ(recall_at(ranked, relevant, 5), 0.5);    // a, b
  EXPECT_DOUBLE_EQ(recall_at(ranked, relevant, 10), 0.75);  // a, b, c
  EXPECT_DOUBLE_EQ(recall_at({}, relevant, 10), 0.0);
}

TEST(RagEvalMetrics, ReciprocalRankIsTheFirstRelevantWithinK) {
  EXPECT_DOUBLE_EQ(reciprocal_rank({"a", "b"}, {"a"}, 10), 1.0);
  EXPECT_DOUBLE_EQ(reciprocal_rank({"x", "y", "b", "a"}, {"a", "b"}, 10), 1.0 / 3);
  EXPECT_DOUBLE_EQ(reciprocal_rank({"x", "y", "b"}, {"b"}, 2), 0.0);  // beyond the cutoff
  EXPECT_DOUBLE_EQ(reciprocal_rank({"x"}, {"b"}, 10), 0.0);
}

TEST(RagEvalMetrics, NdcgByHand) {
  // Relevant at ranks 1 and 3 of two relevant documents:
  // DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3).
  EXPECT_NEAR(ndcg_at({"a", "x", "b"}, {"a", "b"}, 10), 1.5 / (1 + 1 / std::log2(3.0)), 1e-12);
  // One relevant document at rank 2: (1/log2(3)) / 1.
  EXPECT_NEAR(ndcg_at({"x", "a"}, {"a"}, 10), 1 / std::log2(3.0), 1e-12);
  EXPECT_DOUBLE_EQ(ndcg_at({"a", "b"}, {"b", "a"}, 10), 1.0);
  // Three relevant, k = 2: the ideal list holds only two of them.
  EXPECT_DOUBLE_EQ(ndcg_at({"a", "b", "c"}, {"a", "b", "c"}, 2), 1.0);
  EXPECT_DOUBLE_EQ(ndcg_at({"x", "y"}, {"a"}, 10), 0.0);
}

TEST(RagEvalMetrics, RankedDocumentsKeepEachPathAtItsBestChunk) {
  std::vector<Hit> hits(4);
  hits[0].path = "/d/a";
  hits[1].path = "/d/b";
  hits[2].path = "/d/a";
  hits[3].path = "/d/c";
  EXPECT_EQ(ranked_documents(hits), (V{"/d/a", "/d/b", "/d/c"}));
}

TEST(RagEvalQrels, ParsesLinesAndNamesTheBadOne) {
  auto q = parse_qrels(
      "{\"query\": \"q1\", \"relevant\": [\"a.txt\", \"a.txt\", \"b/c.txt\"]}\n\n"
      "{\"query\": \"q2\", \"relevant\": [\"d.txt\"], \"note\": 1}\n");
  ASSERT_TRUE(q) << q.error().message;
  ASSERT_EQ(q->size(), 2u);
  EXPECT_EQ((*q)[0].relevant, (V{"a.txt", "b/c.txt"}));
  EXPECT_EQ((*q)[1].query, "q2");
  for (const char* bad : {"{\"query\": \"q\"}", "[1]", "{\"query\": \"\", \"relevant\": [\"a\"]}",
                          "{\"query\": \"q\", \"relevant\": []}",
                          "{\"query\": \"q\", \"relevant\": [3]}", "{\"query\": \"q\", \"rel"}) {
    auto r = parse_qrels(std::string("{\"query\": \"ok\", \"relevant\": [\"a\"]}\n") + bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find("line 2"), std::string::npos) << r.error().message;
  }
  EXPECT_FALSE(parse_qrels("\n \n"));
}

TEST(RagEvalQrels, AnEntryMustNameExactlyOneDocument) {
  const V docs = {"/x/notes/a.txt", "/x/old/a.txt", "/x/notes/ba.txt", "/x/b.txt"};
  EXPECT_EQ(*match_document("notes/a.txt", docs), "/x/notes/a.txt");
  EXPECT_EQ(*match_document("b.txt", docs), "/x/b.txt");  // not /x/notes/ba.txt: whole components
  EXPECT_EQ(*match_document("/x/old/a.txt", docs), "/x/old/a.txt");
  auto both = match_document("a.txt", docs);
  ASSERT_FALSE(both);
  EXPECT_NE(both.error().message.find("matches 2 documents"), std::string::npos);
  auto none = match_document("c.txt", docs);
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("not in the collection"), std::string::npos);
}

TEST(RagEvalCollection, ScoresAKnownCorpus) {
  const fs::path dir = fs::temp_directory_path() / ("hearth-rag-eval-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "docs");
  auto write = [&](const char* name, const char* text) {
    std::ofstream(dir / "docs" / name) << text;
  };
  write("keys.txt", "Rotate the signing keys with keyctl rotate.\n");
  write("backup.txt", "Nightly backups go to the archive volume.\n");
  write("fonts.txt", "The renderer caches glyph atlases for fonts.\n");
  auto c = Collection::open("evaltest", true, dir / "c.sqlite");
  ASSERT_TRUE(c) << c.error().message;
  (*c)->add_paths({dir / "docs"}, nullptr, {});
  auto qrels = parse_qrels(
      "{\"query\": \"keyctl rotate\", \"relevant\": [\"keys.txt\"]}\n"
      "{\"query\": \"glyph atlases\", \"relevant\": [\"docs/fonts.txt\"]}\n"
      // Its words are only in backup.txt, yet keys.txt is judged relevant: a miss.
      "{\"query\": \"archive volume\", \"relevant\": [\"keys.txt\"]}\n");
  ASSERT_TRUE(qrels);
  auto r = evaluate(**c, *qrels, QueryMode::kBm25, 10, nullptr);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->queries.size(), 3u);
  EXPECT_DOUBLE_EQ(r->queries[0].reciprocal_rank, 1.0);
  EXPECT_DOUBLE_EQ(r->queries[1].ndcg, 1.0);
  EXPECT_DOUBLE_EQ(r->queries[2].recall_k, 0.0);  // keys.txt has neither word: not retrieved
  EXPECT_NEAR(r->recall_k, 2.0 / 3, 1e-12);
  EXPECT_NEAR(r->mrr, 2.0 / 3, 1e-12);

  auto missing = parse_qrels("{\"query\": \"x\", \"relevant\": [\"nope.txt\"]}");
  EXPECT_FALSE(evaluate(**c, *missing, QueryMode::kBm25, 10, nullptr));
  EXPECT_FALSE(evaluate(**c, *qrels, QueryMode::kVector, 10, nullptr));  // no embedder
  c->reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace hearth::rag
