// Exact BM25 top-n over FTS5 without scoring every match (rag/bm25.h).
//
// FTS5's bm25() for the OR query q_0 OR ... OR q_{m-1} scores a row as
//   sum_i idf_i * f_i * (k1 + 1) / (f_i + k1 * (1 - b + b * D / avgdl))
// where f_i counts phrase i in the row, D is the row's length in tokens, avgdl the mean, and
// idf_i = log((N - n_i + 0.5) / (n_i + 0.5)) (at least 1e-6) for the n_i rows holding phrase i.
// Each term is below idf_i * (k1 + 1), so a row that holds none of the phrases visited so far
// scores below the sum of that bound over the phrases not visited. Visiting terms rarest
// first, every row holding a visited term is scored exactly (all m phrases, in query order, as
// FTS5 sums them); once the n-th best exact score is above the bound of the rest, no unseen
// row can enter the top n and the common words' long posting lists are never walked.
#include "rag/bm25.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_set>

#include "server/sqlite_util.h"

namespace hearth::rag {
namespace sql = server::sql;
namespace {

// FTS5's bm25() constants (fts5_aux.c); the scoring below must evaluate the same expression
// in the same order so that its doubles equal FTS5's.
constexpr double kK1 = 1.2;
constexpr double kB = 0.75;
constexpr double kMinIdf = 1e-6;
// Must match the tokenizer of chunks_fts in collection.cpp's schema: the question's words are
// tokenized here to look their document counts up in the vocabulary.
constexpr const char* kTokenizer = "unicode61";
const char* const kTokenizerArgs[] = {"remove_diacritics", "2"};
// FTS5 cuts longer query tokens; such a word is counted through FTS5 itself instead.
constexpr size_t kMaxVocabToken = 32768;

constexpr const char* kScoreFunction = "hearth_bm25_exact";
constexpr const char* kStateType = "hearth_bm25_state";

using StmtPtr = std::unique_ptr<sql::Stmt>;

// A prepared statement, or null when `text` does not prepare.
StmtPtr prepare(sqlite3* db, const std::string& text) {
  auto s = std::make_unique<sql::Stmt>(db, text.c_str());
  return s->ok() ? std::move(s) : nullptr;
}

// What the scoring function needs for one query: where the query's phrases sit in the
// statement's expression and how many rows hold each; the statistics FTS5 keeps (row count,
// total tokens) are read at the first row scored.
struct ScoreState {
  int first_phrase = 1;  // the statement's expression is `"t" AND (q_0 OR ... OR q_{m-1})`
  std::vector<int64_t> rows_with;  // n_i per query phrase
  bool ready = false;
  std::vector<double> idf;
  double avgdl = 0;
  std::string error;
};

void score_row(const Fts5ExtensionApi* api, Fts5Context* fts, sqlite3_context* ctx, int n_args,
               sqlite3_value** args) {
  auto* state =
      n_args == 1 ? static_cast<ScoreState*>(sqlite3_value_pointer(args[0], kStateType)) : nullptr;
  if (!state) {
    sqlite3_result_error(ctx, "hearth_bm25_exact: called without its state", -1);
    return;
  }
  const int phrases = static_cast<int>(state->rows_with.size());
  if (api->xPhraseCount(fts) < state->first_phrase + phrases) {
    sqlite3_result_error(ctx, "hearth_bm25_exact: the expression lacks the query's phrases", -1);
    return;
  }
  if (!state->ready) {
    sqlite3_int64 rows = 0, tokens = 0;
    if (api->xRowCount(fts, &rows) != SQLITE_OK ||
        api->xColumnTotalSize(fts, -1, &tokens) != SQLITE_OK || rows <= 0) {
      sqlite3_result_error(ctx, "hearth_bm25_exact: cannot read the index statistics", -1);
      return;
    }
    state->avgdl = static_cast<double>(tokens) / static_cast<double>(rows);
    state->idf.resize(static_cast<size_t>(phrases));
    for (int i = 0; i < phrases; ++i) {
      const sqlite3_int64 hits = state->rows_with[static_cast<size_t>(i)];
      double idf = std::log((rows - hits + 0.5) / (hits + 0.5));
      state->idf[static_cast<size_t>(i)] = idf <= 0.0 ? kMinIdf : idf;
    }
    state->ready = true;
  }
  int length = 0;
  if (api->xColumnSize(fts, -1, &length) != SQLITE_OK) {
    sqlite3_result_error(ctx, "hearth_bm25_exact: cannot read the row's length", -1);
    return;
  }
  const double d = static_cast<double>(length);
  double score = 0.0;
  for (int i = 0; i < phrases; ++i) {
    double freq = 0.0;
    Fts5PhraseIter it;
    int col = -1, offset = 0;
    if (api->xPhraseFirst(fts, state->first_phrase + i, &it, &col, &offset) != SQLITE_OK) {
      sqlite3_result_error(ctx, "hearth_bm25_exact: cannot read a phrase's positions", -1);
      return;
    }
    for (; col >= 0; api->xPhraseNext(fts, &it, &col, &offset)) freq += 1.0;
    score += state->idf[static_cast<size_t>(i)] *
             ((freq * (kK1 + 1.0)) / (freq + kK1 * (1 - kB + kB * d / state->avgdl)));
  }
  sqlite3_result_double(ctx, score);
}

Result<fts5_api*> fts5_of(sqlite3* db) {
  fts5_api* api = nullptr;
  StmtPtr s = prepare(db, "SELECT fts5(?1)");
  if (!s) return std::unexpected(sql::error(db, "FTS5 API"));
  sqlite3_bind_pointer(s->handle(), 1, &api, "fts5_api_ptr", nullptr);
  s->step();
  if (!api || api->iVersion < 2) return unsupported("this SQLite's FTS5 API is too old");
  return api;
}

// The scoring statement, registering the function (and the vocabulary table) on first use.
Result<StmtPtr> scoring_statement(sqlite3* db, fts5_api* api) {
  const std::string text = std::string("SELECT rowid, ") + kScoreFunction +
                           "(chunks_fts, ?2) FROM chunks_fts WHERE chunks_fts MATCH ?1";
  if (StmtPtr s = prepare(db, text)) return s;
  if (api->xCreateFunction(api, kScoreFunction, nullptr, score_row, nullptr) != SQLITE_OK)
    return std::unexpected(sql::error(db, "registering the BM25 function"));
  if (StmtPtr s = prepare(db, text)) return s;
  return std::unexpected(sql::error(db, "BM25 scoring statement"));
}

// The tokens FTS5 makes of one query word, or nullopt when the word needs FTS5 itself to
// count (colocated or over-long tokens).
std::optional<std::vector<std::string>> tokens_of(fts5_api* api, const std::string& word) {
  void* user = nullptr;
  fts5_tokenizer tokenizer{};
  if (api->xFindTokenizer(api, kTokenizer, &user, &tokenizer) != SQLITE_OK) return std::nullopt;
  Fts5Tokenizer* t = nullptr;
  if (tokenizer.xCreate(user, const_cast<const char**>(kTokenizerArgs), 2, &t) != SQLITE_OK)
    return std::nullopt;
  struct Sink {
    std::vector<std::string> tokens;
    bool plain = true;
  } sink;
  auto on_token = [](void* ctx, int flags, const char* token, int n, int, int) {
    auto* out = static_cast<Sink*>(ctx);
    if ((flags & FTS5_TOKEN_COLOCATED) || static_cast<size_t>(n) >= kMaxVocabToken)
      out->plain = false;
    out->tokens.emplace_back(token, static_cast<size_t>(n));
    return SQLITE_OK;
  };
  const int rc = tokenizer.xTokenize(t, &sink, FTS5_TOKENIZE_QUERY, word.data(),
                                     static_cast<int>(word.size()), on_token);
  tokenizer.xDelete(t);
  if (rc != SQLITE_OK || !sink.plain) return std::nullopt;
  return sink.tokens;
}

std::string quoted(const std::string& word) {
  return "\"" + word + "\"";  // words hold no '"' (fts5_words)
}

// n_i for a word: single tokens from the vocabulary (no scan of the matches through the
// query machinery), anything else by counting FTS5's matches of the phrase.
Result<int64_t> rows_holding(sqlite3* db, const std::string& word,
                             const std::optional<std::vector<std::string>>& tokens,
                             sql::Stmt* vocab, sql::Stmt& count) {
  if (tokens && tokens->empty()) return 0;  // FTS5 matches nothing for a phrase of no tokens
  const bool from_vocab = tokens && tokens->size() == 1 && vocab;
  sql::Stmt& s = from_vocab ? *vocab : count;
  s.reset();
  s.bind(1, from_vocab ? (*tokens)[0] : quoted(word));
  const int rc = s.step();
  if (rc == SQLITE_DONE) return 0;
  if (rc != SQLITE_ROW) return std::unexpected(sql::error(db, "BM25 term statistics"));
  return s.int64(0);
}

bool better(const Ranked& a, const Ranked& b) {
  return a.score != b.score ? a.score > b.score : a.id < b.id;
}

}  // namespace

Result<std::vector<Ranked>> bm25_top(sqlite3* db, std::string_view question, int n) {
  const std::vector<std::string> words = fts5_words(question);
  if (words.empty() || n < 1) return std::vector<Ranked>{};
  auto api = fts5_of(db);
  if (!api) return std::unexpected(api.error());
  auto scoring = scoring_statement(db, *api);
  if (!scoring) return std::unexpected(scoring.error());
  // fts5vocab reads a term's document count from its posting list in C, far cheaper than
  // FTS5's own count (bm25() walks every match of every phrase through the query engine).
  (void)sql::exec(db,
                  "CREATE VIRTUAL TABLE IF NOT EXISTS temp.hearth_chunks_vocab USING "
                  "fts5vocab(main, chunks_fts, row)");
  StmtPtr vocab = prepare(db, "SELECT doc FROM temp.hearth_chunks_vocab WHERE term = ?1");
  StmtPtr count = prepare(db, "SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH ?1");
  if (!count) return std::unexpected(sql::error(db, "BM25 term count"));

  // Words that tokenize alike are one term (the same rows); each keeps its phrases.
  struct Term {
    std::vector<int> phrases;
    int64_t rows = 0;
  };
  std::vector<Term> terms;
  std::map<std::vector<std::string>, size_t> term_of_tokens;
  ScoreState state;
  state.rows_with.resize(words.size());
  for (size_t i = 0; i < words.size(); ++i) {
    const auto tokens = tokens_of(*api, words[i]);
    size_t t = terms.size();
    if (tokens) {
      auto [it, added] = term_of_tokens.emplace(*tokens, terms.size());
      t = it->second;
      if (added) terms.emplace_back();
    } else {
      terms.emplace_back();
    }
    if (terms[t].phrases.empty()) {
      auto rows = rows_holding(db, words[i], tokens, vocab.get(), *count);
      if (!rows) return std::unexpected(rows.error());
      terms[t].rows = *rows;
    }
    terms[t].phrases.push_back(static_cast<int>(i));
    state.rows_with[i] = terms[t].rows;
  }
  std::vector<size_t> order;
  for (size_t t = 0; t < terms.size(); ++t)
    if (terms[t].rows > 0) order.push_back(t);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return terms[a].rows != terms[b].rows ? terms[a].rows < terms[b].rows : a < b;
  });

  const std::string all = fts5_query(question);
  std::unordered_set<int64_t> seen;
  std::vector<Ranked> scored;
  std::vector<double> scores;
  sql::Stmt& s = **scoring;
  for (size_t j = 0; j < order.size(); ++j) {
    const Term& term = terms[order[j]];
    const std::string match =
        quoted(words[static_cast<size_t>(term.phrases[0])]) + " AND (" + all + ")";
    s.reset();
    s.bind(1, match);
    sqlite3_bind_pointer(s.handle(), 2, &state, kStateType, nullptr);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      const int64_t id = s.int64(0);
      if (seen.insert(id).second) scored.push_back(Ranked{id, s.real(1)});
    }
    if (rc != SQLITE_DONE) return std::unexpected(sql::error(db, "BM25 search"));
    if (j + 1 == order.size() || !state.ready || scored.size() < static_cast<size_t>(n)) continue;
    // Above what any row holding none of the terms visited so far can score.
    double rest = 0;
    for (size_t r = j + 1; r < order.size(); ++r)
      for (int p : terms[order[r]].phrases) rest += state.idf[static_cast<size_t>(p)] * (kK1 + 1.0);
    scores.clear();
    for (const Ranked& r : scored) scores.push_back(r.score);
    std::nth_element(scores.begin(), scores.begin() + (n - 1), scores.end(),
                     std::greater<double>());
    // The margin covers the rounding of sums in another order than the bound's.
    if (rest * (1 + 1e-9) < scores[static_cast<size_t>(n - 1)]) break;
  }
  const size_t keep = std::min(scored.size(), static_cast<size_t>(n));
  std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(keep), scored.end(),
                    better);
  scored.resize(keep);
  return scored;
}

Result<std::vector<Ranked>> bm25_fts5_rank(sqlite3* db, std::string_view question, int n) {
  const std::string match = fts5_query(question);
  std::vector<Ranked> out;
  if (match.empty() || n < 1) return out;
  sql::Stmt s(db,
              "SELECT rowid, rank FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rank LIMIT ?");
  s.bind(1, match).bind(2, static_cast<int64_t>(n));
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    // FTS5's rank is bm25() negated (smaller is better); scores here are higher-is-better.
    out.push_back(Ranked{s.int64(0), -s.real(1)});
  }
  if (rc != SQLITE_DONE) return std::unexpected(sql::error(db, "BM25 search"));
  return out;
}

}  // namespace hearth::rag
