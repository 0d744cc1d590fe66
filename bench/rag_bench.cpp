// hearth_rag_bench: RAG ingest throughput (BM25-only) and vector search latency, exact scan vs
// HNSW, on generated data (docs/rag.md "Benchmarks" has the figures and command lines).
//
//   hearth_rag_bench ingest [--mb 20 | --kb N] [--embedder GGUF] [--from DIR]
//                                                        ingest of generated text (or DIR's
//                                                        files), BM25-only or embedded too
//   hearth_rag_bench embed --embedder GGUF --file TXT    embeddings/s over one passage a line
//   hearth_rag_bench bm25 [--chunks 1000000] [--queries 200] [--path new|old|both]
//                                                        BM25 query latency at scale, bm25_top
//                                                        and/or FTS5's ORDER BY rank (default both)
//   hearth_rag_bench search [--n 10000] [--queries 200]  exact vs HNSW over random 384-d vectors
//   hearth_rag_bench sweep  [--n 10000] [--queries 200]  HNSW recall@10 and latency by ef_search
//
// Random unit vectors are the hard case for HNSW (no clusters to exploit), so its recall here
// is a floor, not what real embeddings give.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "rag/collection.h"
#include "rag/embedder.h"
#include "rag/hnsw_index.h"
#include "rag/retrieval.h"

namespace {

namespace fs = std::filesystem;
using namespace hearth::rag;
using Clock = std::chrono::steady_clock;

constexpr size_t kDim = 384;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

std::vector<float> unit_vectors(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> v(n * kDim);
  for (size_t i = 0; i < n; ++i) {
    float* row = v.data() + i * kDim;
    double norm = 0;
    for (size_t j = 0; j < kDim; ++j) {
      row[j] = g(rng);
      norm += double(row[j]) * row[j];
    }
    for (size_t j = 0; j < kDim; ++j) row[j] /= static_cast<float>(std::sqrt(norm));
  }
  return v;
}

long arg(int argc, char** argv, const char* name, long fallback) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return std::atol(argv[i + 1]);
  return fallback;
}

std::string text_arg(int argc, char** argv, const char* name) {
  for (int i = 2; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  return "";
}

// The embedder at `path`, or null (with a message) when it cannot be loaded.
std::unique_ptr<Embedder> load_embedder(const std::string& path) {
  auto e = Embedder::load(fs::path(path).filename().string(), path);
  if (!e) {
    std::fprintf(stderr, "%s\n", e.error().message.c_str());
    return nullptr;
  }
  return std::move(*e);
}

fs::path scratch(const char* what) {
  fs::path dir =
      fs::temp_directory_path() / ("hearth-rag-bench-" + std::to_string(getpid()) + what);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Ingest of `kb` KB of text: generated `wNNNNN` words, or the files of `from` (sorted by name,
// whole files, until the size is reached) for prose.
int ingest(long kb, const std::string& embedder_path, const std::string& from) {
  std::unique_ptr<Embedder> embedder;
  if (!embedder_path.empty() && !(embedder = load_embedder(embedder_path))) return 1;
  const fs::path dir = scratch("-ingest");
  const fs::path docs = dir / "docs";
  fs::create_directories(docs);
  const size_t limit = static_cast<size_t>(kb) << 10;
  size_t bytes = 0;
  if (!from.empty()) {
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(from, ec))
      if (e.is_regular_file()) files.push_back(e.path());
    if (ec)
      return std::fprintf(stderr, "cannot list %s: %s\n", from.c_str(), ec.message().c_str()), 1;
    std::sort(files.begin(), files.end());
    for (size_t i = 0; i < files.size() && bytes < limit; ++i) {
      fs::copy_file(files[i], docs / files[i].filename(), ec);
      if (ec) return std::fprintf(stderr, "cannot copy %s\n", files[i].c_str()), 1;
      bytes += fs::file_size(files[i]);
    }
  }
  std::mt19937_64 rng(7);
  std::vector<std::string> words;
  for (int i = 0; i < 5000; ++i) words.push_back("w" + std::to_string(rng() % 100000));
  for (int f = 0; from.empty() && bytes < limit; ++f) {
    std::string text;
    while (text.size() < 256 * 1024) {
      for (int w = 0; w < 12; ++w) text += words[rng() % words.size()] + " ";
      text += (rng() % 8 == 0) ? "\n\n" : "\n";
    }
    std::ofstream(docs / ("f" + std::to_string(f) + ".txt")) << text;
    bytes += text.size();
  }
  auto c = Collection::open("bench", true, dir / "bench.sqlite");
  if (!c) return std::fprintf(stderr, "%s\n", c.error().message.c_str()), 1;
  const auto t = Clock::now();
  auto out = (*c)->add_paths({docs}, embedder.get(), {});
  const double s = ms_since(t) / 1000;
  const auto info = (*c)->info();
  for (const FileOutcome& o : out) {
    if (o.kind == FileOutcome::kFailed) {
      std::fprintf(stderr, "%s failed: %s\n", o.path.c_str(), o.reason.c_str());
      return 1;
    }
  }
  std::printf("ingest %s: %.3f MB in %zu files, %lld chunks, %.2f s, %.3f MB/s (%.1f KB/s)\n",
              embedder ? ("embedded by " + embedder->identity().model).c_str() : "BM25-only",
              bytes / 1048576.0, out.size(), static_cast<long long>(info ? info->chunks : 0), s,
              bytes / 1048576.0 / s, bytes / 1024.0 / s);
  c->reset();
  fs::remove_all(dir);
  return 0;
}

// A collection of n chunks whose vectors are `data`, written directly (no embedder needed).
bool fill(Collection& c, const fs::path& db_path, const std::vector<float>& data, size_t n) {
  if (!c.bind_embedder(nullptr)) return false;
  sqlite3* db = nullptr;
  if (sqlite3_open(db_path.c_str(), &db) != SQLITE_OK) return false;
  sqlite3_exec(db,
               "BEGIN; UPDATE meta SET value = 'bench-random' WHERE key = 'embedder.model';"
               "UPDATE meta SET value = '384' WHERE key = 'embedder.dimension';"
               "INSERT INTO documents(path, sha256, size, mtime, type, status, chunk_count, "
               "indexed_at) VALUES ('/bench', '', 0, 0, 'text', 'indexed', 0, 0);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* chunk = nullptr;
  sqlite3_stmt* vec = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO chunks(id, document_id, ord, text, char_start, char_end, "
                     "n_tokens) VALUES (?, 1, ?, 'x', 0, 1, 1)",
                     -1, &chunk, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO vectors(chunk_id, embedding) VALUES (?, ?)", -1, &vec,
                     nullptr);
  for (size_t i = 0; i < n; ++i) {
    sqlite3_bind_int64(chunk, 1, static_cast<int64_t>(i) + 1);
    sqlite3_bind_int64(chunk, 2, static_cast<int64_t>(i));
    sqlite3_step(chunk);
    sqlite3_reset(chunk);
    sqlite3_bind_int64(vec, 1, static_cast<int64_t>(i) + 1);
    sqlite3_bind_blob(vec, 2, data.data() + i * kDim, kDim * sizeof(float), SQLITE_STATIC);
    sqlite3_step(vec);
    sqlite3_reset(vec);
  }
  sqlite3_finalize(chunk);
  sqlite3_finalize(vec);
  const bool ok = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  return ok;
}

double recall(const std::vector<Ranked>& got, const std::vector<Ranked>& truth) {
  size_t hit = 0;
  for (const Ranked& g : got)
    for (const Ranked& t : truth) hit += g.id == t.id;
  return truth.empty() ? 1 : double(hit) / double(truth.size());
}

int search(size_t n, size_t queries) {
  const fs::path dir = scratch("-search");
  const auto data = unit_vectors(n, 1);
  const auto qs = unit_vectors(queries, 2);
  auto c = Collection::open("bench", true, dir / "bench.sqlite");
  if (!c || !fill(**c, dir / "bench.sqlite", data, n))
    return std::fprintf(stderr, "cannot make the collection\n"), 1;
  (*c)->set_hnsw_threshold(1);
  auto t = Clock::now();
  if (auto s = (*c)->prepare_vector_index(); !s)
    return std::fprintf(stderr, "%s\n", s.error().message.c_str()), 1;
  const double build_s = ms_since(t) / 1000;
  std::vector<double> exact_ms, hnsw_ms;
  std::vector<std::vector<Ranked>> truths;
  double r = 0;
  for (size_t q = 0; q < queries; ++q) {
    std::span<const float> v(qs.data() + q * kDim, kDim);
    t = Clock::now();
    auto truth = (*c)->nearest_chunks(v, 10, true);
    exact_ms.push_back(ms_since(t));
    t = Clock::now();
    auto got = (*c)->nearest_chunks(v, 10, false);
    hnsw_ms.push_back(ms_since(t));
    if (!truth || !got) return std::fprintf(stderr, "search failed\n"), 1;
    r += recall(*got, *truth);
    truths.push_back(std::move(*truth));
  }
  std::printf(
      "n=%zu dim=%zu queries=%zu: exact p50 %.2f ms p95 %.2f ms | HNSW (M=%zu efC=%zu ef=%zu, "
      "built in %.1f s) p50 %.2f ms p95 %.2f ms, recall@10 %.3f\n",
      n, kDim, queries, percentile(exact_ms, 0.5), percentile(exact_ms, 0.95), HnswParams{}.m,
      HnswParams{}.ef_construction, default_ef_search(n), build_s, percentile(hnsw_ms, 0.5),
      percentile(hnsw_ms, 0.95), r / double(queries));
  // The trade-off: the index the collection saved, searched with other ef_search values.
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().find(".hnsw-") == std::string::npos) continue;
    for (size_t ef : {100, 200, 400, 800, 1600, 3200, 6400}) {
      HnswParams p;
      p.ef_search = ef;
      auto index = HnswIndex::load(e.path(), kDim, p);
      if (!index) return std::fprintf(stderr, "%s\n", index.error().message.c_str()), 1;
      std::vector<double> ms;
      double rr = 0;
      for (size_t q = 0; q < queries; ++q) {
        t = Clock::now();
        auto got = (*index)->search(qs.data() + q * kDim, 10);
        ms.push_back(ms_since(t));
        rr += recall(got, truths[q]);
      }
      std::printf("  HNSW in memory, ef_search=%zu: recall@10 %.3f, p50 %.3f ms, p95 %.3f ms\n", ef,
                  rr / double(queries), percentile(ms, 0.5), percentile(ms, 0.95));
    }
  }
  c->reset();
  fs::remove_all(dir);
  return 0;
}

int sweep(size_t n, size_t queries) {
  const auto data = unit_vectors(n, 1);
  const auto qs = unit_vectors(queries, 2);
  std::vector<int64_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = static_cast<int64_t>(i);
  std::vector<std::vector<Ranked>> truth;
  for (size_t q = 0; q < queries; ++q) {
    TopK top(10);
    for (size_t i = 0; i < n; ++i)
      top.offer(ids[i], dot(qs.data() + q * kDim, &data[i * kDim], kDim));
    truth.push_back(top.take());
  }
  const size_t m =
      static_cast<size_t>(std::getenv("HNSW_M") ? std::atol(std::getenv("HNSW_M")) : 32);
  for (size_t ef : {100, 200, 400, 800, 1600}) {
    HnswParams p;
    p.m = m;
    p.ef_search = ef;
    static std::unique_ptr<HnswIndex> index;
    static double build_s = 0;
    if (!index) {
      const auto t = Clock::now();
      auto built = HnswIndex::build(ids, data, kDim, p);
      if (!built) return std::fprintf(stderr, "%s\n", built.error().message.c_str()), 1;
      index = std::move(*built);
      build_s = ms_since(t) / 1000;
    }
    // ef is fixed at build/load time in HnswIndex: reload from a saved copy with this ef.
    const fs::path file = fs::temp_directory_path() / ("hearth-sweep-" + std::to_string(getpid()));
    if (!index->save(file)) return 1;
    auto loaded = HnswIndex::load(file, kDim, p);
    fs::remove(file);
    if (!loaded) return 1;
    std::vector<double> ms;
    double r = 0;
    for (size_t q = 0; q < queries; ++q) {
      const auto t = Clock::now();
      auto got = (*loaded)->search(qs.data() + q * kDim, 10);
      ms.push_back(ms_since(t));
      r += recall(got, truth[q]);
    }
    std::printf(
        "n=%zu M=%zu efC=%zu (built in %.1f s) ef_search=%zu: recall@10 %.3f, p50 %.3f ms, p95 "
        "%.3f ms\n",
        n, m, p.ef_construction, build_s, ef, r / double(queries), percentile(ms, 0.5),
        percentile(ms, 0.95));
  }
  return 0;
}

// Embeddings per second of the RAG embedder (rag::Embedder, the path `rag add` and
// /v1/embeddings share) over the passages of `file`, one a line, each embedded as a document
// (one at a time, as both use it). One untimed pass first, then `reps` timed passes.
int embed(const std::string& embedder_path, const std::string& file, long reps) {
  auto embedder = load_embedder(embedder_path);
  if (!embedder) return 1;
  std::ifstream in(file);
  if (!in) return std::fprintf(stderr, "cannot read %s\n", file.c_str()), 1;
  std::vector<std::string> passages;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) passages.push_back(line);
  if (passages.empty()) return std::fprintf(stderr, "%s has no passages\n", file.c_str()), 1;
  long tokens = 0;
  for (const std::string& p : passages) tokens += embedder->count_tokens(p);
  std::vector<double> rates;
  for (long rep = -1; rep < reps; ++rep) {
    const auto t = Clock::now();
    for (const std::string& p : passages) {
      if (auto v = embedder->embed(p, /*is_query=*/false); !v)
        return std::fprintf(stderr, "%s\n", v.error().message.c_str()), 1;
    }
    if (rep >= 0) rates.push_back(double(passages.size()) / (ms_since(t) / 1000));
  }
  const double median = percentile(rates, 0.5);
  std::printf(
      "embed %s: %zu passages, %.1f tokens each (without special tokens), median of %ld: %.1f "
      "embeddings/s, %.0f tokens/s\n",
      embedder->identity().model.c_str(), passages.size(), double(tokens) / passages.size(), reps,
      median, median * double(tokens) / passages.size());
  return 0;
}

// BM25 latency through Collection::query (kBm25: bm25_top or FTS5's ranking, then the hits'
// rows) over `n_chunks` generated chunks of 120 words drawn from a Zipf-like vocabulary of
// 50 000 words (so some words are in most chunks and most words in few, as in text), written
// straight into a collection. Queries are 4 words drawn the same way.
int bm25(size_t n_chunks, size_t queries, const std::string& path) {
  const fs::path dir = scratch("-bm25");
  std::mt19937_64 rng(11);
  constexpr size_t kVocabulary = 50000;
  std::vector<double> weights(kVocabulary);
  for (size_t i = 0; i < kVocabulary; ++i) weights[i] = 1.0 / double(i + 1);
  std::discrete_distribution<size_t> zipf(weights.begin(), weights.end());
  auto word = [&] { return "w" + std::to_string(zipf(rng)); };
  auto c = Collection::open("bench", true, dir / "bench.sqlite");
  if (!c || !(*c)->bind_embedder(nullptr))
    return std::fprintf(stderr, "cannot make the collection\n"), 1;
  sqlite3* db = nullptr;
  if (sqlite3_open((dir / "bench.sqlite").c_str(), &db) != SQLITE_OK) return 1;
  const auto t_fill = Clock::now();
  sqlite3_exec(db,
               "BEGIN; INSERT INTO documents(path, sha256, size, mtime, type, status, "
               "chunk_count, indexed_at) VALUES ('/bench', '', 0, 0, 'text', 'indexed', 0, 0);",
               nullptr, nullptr, nullptr);
  sqlite3_stmt* chunk = nullptr;
  sqlite3_stmt* fts = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT INTO chunks(id, document_id, ord, text, char_start, char_end, "
                     "n_tokens) VALUES (?, 1, ?, ?, 0, 1, 120)",
                     -1, &chunk, nullptr);
  sqlite3_prepare_v2(db, "INSERT INTO chunks_fts(rowid, text) VALUES (?, ?)", -1, &fts, nullptr);
  size_t text_bytes = 0;
  bool ok = true;
  for (size_t i = 0; i < n_chunks && ok; ++i) {
    std::string text;
    for (int w = 0; w < 120; ++w) text += word() + " ";
    text_bytes += text.size();
    const auto id = static_cast<int64_t>(i) + 1;
    sqlite3_bind_int64(chunk, 1, id);
    sqlite3_bind_int64(chunk, 2, id - 1);
    sqlite3_bind_text(chunk, 3, text.data(), int(text.size()), SQLITE_TRANSIENT);
    sqlite3_bind_int64(fts, 1, id);
    sqlite3_bind_text(fts, 2, text.data(), int(text.size()), SQLITE_TRANSIENT);
    ok = sqlite3_step(chunk) == SQLITE_DONE && sqlite3_step(fts) == SQLITE_DONE;
    sqlite3_reset(chunk);
    sqlite3_reset(fts);
  }
  sqlite3_finalize(chunk);
  sqlite3_finalize(fts);
  ok = ok && sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  sqlite3_close(db);
  if (!ok) return std::fprintf(stderr, "filling the collection failed\n"), 1;
  const double fill_s = ms_since(t_fill) / 1000;
  // Each query through both paths (bm25_top, and FTS5's ORDER BY rank as before), alternating
  // which goes first; their BM25 scores must agree hit for hit.
  const bool run_new = path != "old", run_old = path != "new";
  std::vector<double> new_ms, old_ms;
  size_t empty = 0, differ = 0;
  for (size_t q = 0; q <= queries; ++q) {
    std::string question;
    for (int w = 0; w < 4; ++w) question += word() + " ";
    std::vector<Hit> by_path[2];
    for (int turn = 0; turn < 2; ++turn) {
      const bool old_path = (turn == 0) == (q % 2 == 0);
      if (old_path ? !run_old : !run_new) continue;
      const auto t = Clock::now();
      auto hits = (*c)->query(question, 10, nullptr,
                              {.mode = QueryMode::kBm25, .bm25_fts5_rank = old_path});
      if (!hits) return std::fprintf(stderr, "%s\n", hits.error().message.c_str()), 1;
      if (q == 0) continue;  // the first query reads the index into the page cache
      (old_path ? old_ms : new_ms).push_back(ms_since(t));
      by_path[old_path ? 1 : 0] = std::move(*hits);
    }
    if (q == 0) continue;
    empty += (run_new ? by_path[0] : by_path[1]).empty();
    if (run_new && run_old) {
      bool same = by_path[0].size() == by_path[1].size();
      for (size_t i = 0; same && i < by_path[0].size(); ++i)
        same = by_path[0][i].bm25_score == by_path[1][i].bm25_score;
      differ += !same;
    }
  }
  std::printf(
      "bm25 over %zu chunks (%.0f MB of text, %.0f MB database, filled in %.0f s), %zu queries "
      "of 4 words, k=10 (%zu without hits)\n",
      n_chunks, text_bytes / 1e6, fs::file_size(dir / "bench.sqlite") / 1e6, fill_s, queries,
      empty);
  if (run_new)
    std::printf("  bm25_top (new):         p50 %.2f ms, p95 %.2f ms, max %.2f ms\n",
                percentile(new_ms, 0.5), percentile(new_ms, 0.95), percentile(new_ms, 1.0));
  if (run_old)
    std::printf("  FTS5 ORDER BY rank (old): p50 %.2f ms, p95 %.2f ms, max %.2f ms\n",
                percentile(old_ms, 0.5), percentile(old_ms, 0.95), percentile(old_ms, 1.0));
  if (run_new && run_old)
    std::printf("  old/new: p50 %.1fx, p95 %.1fx; queries whose BM25 scores differ: %zu\n",
                percentile(old_ms, 0.5) / percentile(new_ms, 0.5),
                percentile(old_ms, 0.95) / percentile(new_ms, 0.95), differ);
  c->reset();
  fs::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "ingest")
    return ingest(arg(argc, argv, "--kb", arg(argc, argv, "--mb", 20) * 1024),
                  text_arg(argc, argv, "--embedder"), text_arg(argc, argv, "--from"));
  if (what == "embed")
    return embed(text_arg(argc, argv, "--embedder"), text_arg(argc, argv, "--file"),
                 arg(argc, argv, "-r", 3));
  if (what == "bm25")
    return bm25(static_cast<size_t>(arg(argc, argv, "--chunks", 1000000)),
                static_cast<size_t>(arg(argc, argv, "--queries", 200)),
                text_arg(argc, argv, "--path"));
  if (what == "search")
    return search(static_cast<size_t>(arg(argc, argv, "--n", 10000)),
                  static_cast<size_t>(arg(argc, argv, "--queries", 200)));
  if (what == "sweep")
    return sweep(static_cast<size_t>(arg(argc, argv, "--n", 10000)),
                 static_cast<size_t>(arg(argc, argv, "--queries", 200)));
  std::fprintf(
      stderr,
      "usage: hearth_rag_bench ingest [--mb 20 | --kb N] [--embedder GGUF] [--from DIR] | embed "
      "--embedder GGUF "
      "--file PASSAGES [-r 3] | bm25 [--chunks 1000000] [--queries 200] [--path new|old|both] "
      "| search [--n "
      "10000] [--queries 200] | sweep [--n 10000] [--queries 200]\n");
  return 2;
}
