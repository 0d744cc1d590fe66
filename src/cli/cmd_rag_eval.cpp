// `hearth rag eval`: retrieval quality of a collection against judged questions (rag/eval.h,
// docs/rag.md "Evaluation").
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/commands.h"
#include "rag/collection.h"
#include "rag/eval.h"

namespace hearth::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hearth::rag;

struct EvalArgs {
  std::string collection;
  std::string qrels;
  int k = 10;
  std::string mode = "all";
  bool as_json = false;
};

void print_error(const std::string& message) {
  std::fprintf(stderr, "hearth rag eval: %s\n", message.c_str());
}

// The collection's own embedder, or null with the reason when it has none or it is not here.
std::unique_ptr<Embedder> collection_embedder(const Collection& c, std::string& why) {
  auto stored = c.embedder_identity();
  if (!stored) return why = stored.error().message, nullptr;
  if (!*stored || (*stored)->model == "none")
    return why = "the collection has no vectors (indexed with --embed none)", nullptr;
  Result<std::unique_ptr<Embedder>> loaded = std::unexpected(Error{});
  if (!(*stored)->path.empty() && fs::exists((*stored)->path)) {
    loaded = Embedder::load((*stored)->model, (*stored)->path);
  } else {
    auto file = rag_embedder_file((*stored)->model);
    if (!file) return why = file.error().message, nullptr;
    loaded = Embedder::load((*stored)->model, *file);
  }
  if (!loaded) return why = loaded.error().message, nullptr;
  return std::move(*loaded);
}

json report_json(const EvalReport& r) {
  json queries = json::array();
  for (const QueryScore& q : r.queries)
    queries.push_back({{"query", q.query},
                       {"relevant", q.relevant},
                       {"retrieved", q.ranked},
                       {"recall@5", q.recall_5},
                       {"recall@" + std::to_string(r.k), q.recall_k},
                       {"reciprocal_rank", q.reciprocal_rank},
                       {"ndcg@" + std::to_string(r.k), q.ndcg}});
  return {{"mode", to_string(r.mode)},
          {"k", r.k},
          {"queries", r.queries.size()},
          {"recall@5", r.recall_5},
          {"recall@" + std::to_string(r.k), r.recall_k},
          {"mrr", r.mrr},
          {"ndcg@" + std::to_string(r.k), r.ndcg},
          {"per_query", queries}};
}

int run_eval(const EvalArgs& a) {
  if (a.k < 5 || a.k > 100) return print_error("--k must be between 5 and 100"), 2;
  std::vector<QueryMode> modes;
  if (a.mode == "bm25")
    modes = {QueryMode::kBm25};
  else if (a.mode == "vector")
    modes = {QueryMode::kVector};
  else if (a.mode == "hybrid")
    modes = {QueryMode::kHybrid};
  else if (a.mode == "all")
    modes = {QueryMode::kBm25, QueryMode::kVector, QueryMode::kHybrid};
  else
    return print_error("--mode must be bm25, vector, hybrid or all"), 2;

  std::ifstream in(a.qrels, std::ios::binary);
  if (!in) return print_error("cannot read " + a.qrels), 2;
  std::stringstream text;
  text << in.rdbuf();
  auto qrels = parse_qrels(text.str());
  if (!qrels) return print_error(a.qrels + ": " + qrels.error().message), 2;

  auto c = Collection::open(a.collection, /*create=*/false);
  if (!c) return print_error(c.error().message), 1;
  std::string why;
  std::unique_ptr<Embedder> embedder;
  if (a.mode != "bm25") {
    embedder = collection_embedder(**c, why);
    if (!embedder && a.mode != "all")
      return print_error("--mode " + a.mode + " needs vectors: " + why), 1;
  }

  json out = {{"collection", a.collection}, {"qrels", a.qrels}, {"modes", json::array()}};
  json skipped = json::array();
  if (!a.as_json)
    std::printf("%-7s %8s %8s %8s %8s   (%zu questions, k=%d, document level)\n", "mode",
                "recall@5", ("recall@" + std::to_string(a.k)).c_str(), "MRR",
                ("nDCG@" + std::to_string(a.k)).c_str(), qrels->size(), a.k);
  for (QueryMode mode : modes) {
    if (mode != QueryMode::kBm25 && !embedder) {
      skipped.push_back({{"mode", to_string(mode)}, {"reason", why}});
      if (!a.as_json) std::printf("%-7s skipped: %s\n", to_string(mode), why.c_str());
      continue;
    }
    auto r = evaluate(**c, *qrels, mode, a.k, embedder.get());
    if (!r)
      return print_error(r.error().message), r.error().kind == ErrorKind::kInvalidInput ? 2 : 1;
    if (a.as_json)
      out["modes"].push_back(report_json(*r));
    else
      std::printf("%-7s %8.3f %8.3f %8.3f %8.3f\n", to_string(mode), r->recall_5, r->recall_k,
                  r->mrr, r->ndcg);
  }
  if (a.as_json) {
    out["skipped"] = skipped;
    std::printf("%s\n", out.dump(2).c_str());
  }
  return 0;
}

}  // namespace

void register_rag_eval(CLI::App& rag, int& exit_code) {
  auto args = std::make_shared<EvalArgs>();
  auto* e = rag.add_subcommand("eval", "retrieval quality against judged questions (qrels)");
  e->add_option("-c,--collection", args->collection, "collection name")->required();
  e->add_option("--qrels", args->qrels,
                "JSONL: {\"query\": ..., \"relevant\": [path or path suffix, ...]} per line")
      ->required();
  e->add_option("-k,--k", args->k, "documents scored per question (default 10)");
  e->add_option("--mode", args->mode, "bm25, vector, hybrid or all (default all)");
  e->add_flag("--json", args->as_json, "JSON output with per-question detail");
  e->callback([args, &exit_code] { exit_code = run_eval(*args); });
}

}  // namespace hearth::cli
