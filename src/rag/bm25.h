// BM25 retrieval over a collection's FTS5 index (the `chunks_fts` table, rowid = chunk id).
//
// bm25_top returns exactly what FTS5's own ranking (`ORDER BY rank`, i.e. bm25() with k1 1.2,
// b 0.75 and FTS5's IDF) returns for the OR of the question's words, without scoring every
// chunk that matches one of them: terms are visited rarest first and the search stops once
// the words not yet visited cannot lift an unseen chunk into the top n (MaxScore's bound).
// docs/rag.md ("BM25 at scale") argues the bound and gives the figures.
//
// Both functions read through `db`, a connection the caller owns (normally a ReadSnapshot:
// one read transaction, so every statement sees the same index). They register an FTS5
// auxiliary function and a temp fts5vocab table on it the first time. Not thread-safe beyond
// what the connection is: one caller per connection at a time.
#pragma once

#include <string_view>
#include <vector>

#include "hearth/status.h"
#include "rag/retrieval.h"

struct sqlite3;

namespace hearth::rag {

// The best `n` chunks for the OR of `question`'s words (fts5_words), best first: Ranked.id is
// the chunk id, Ranked.score the BM25 score (FTS5's rank negated, so higher is better). Ties
// in score are broken by the smaller id. Empty when the question has no words.
Result<std::vector<Ranked>> bm25_top(sqlite3* db, std::string_view question, int n);

// The same list the way hearth first did it: FTS5 `MATCH ... ORDER BY rank LIMIT n`, which
// scores every matching chunk. Kept for benchmarks and tests (its order among equal scores is
// FTS5's, not by id).
Result<std::vector<Ranked>> bm25_fts5_rank(sqlite3* db, std::string_view question, int n);

}  // namespace hearth::rag
