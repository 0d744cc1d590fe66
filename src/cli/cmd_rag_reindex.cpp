// `hearth rag reindex`: migrate a collection to another embedder (Collection::reindex,
// docs/rag.md "Reindex").
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cli/commands.h"
#include "rag/collection.h"

namespace hearth::cli {
namespace {

using namespace hearth::rag;

struct ReindexArgs {
  std::string collection;
  std::string embed;
  int chunk_tokens = 256;
  int overlap = 32;
  int limit = 0;
};

void print_error(const std::string& message) {
  std::fprintf(stderr, "hearth rag reindex: %s\n", message.c_str());
}

int run_reindex(const ReindexArgs& a) {
  if (a.chunk_tokens < 16 || a.chunk_tokens > 8192)
    return print_error("--chunk-tokens must be between 16 and 8192"), 2;
  if (a.overlap < 0 || a.overlap >= a.chunk_tokens / 2)
    return print_error("--overlap must be between 0 and half of --chunk-tokens"), 2;
  if (a.limit < 0) return print_error("--limit must be 0 (none) or more"), 2;
  auto c = Collection::open(a.collection, /*create=*/false);
  if (!c) return print_error(c.error().message), 1;
  std::unique_ptr<Embedder> embedder;
  if (a.embed != "none") {
    auto file = rag_embedder_file(a.embed);
    if (!file) return print_error(file.error().message), 1;
    auto loaded = Embedder::load(a.embed, *file);
    if (!loaded) return print_error(loaded.error().message), 1;
    embedder = std::move(*loaded);
  }
  ReindexOptions o;
  o.add.chunking = ChunkOptions{a.chunk_tokens, a.overlap};
  o.max_documents = a.limit;
  auto r = (*c)->reindex(embedder.get(), o);
  if (!r) return print_error(r.error().message), 1;
  std::printf(
      "collection %s: %d documents embedded now, %d resumed from an earlier run, %d changed "
      "on disk, %d gone\n",
      a.collection.c_str(), r->staged, r->already_staged, r->changed, r->gone);
  if (r->swapped) {
    std::printf("reindexed with %s: %lld chunks\n", a.embed.c_str(),
                static_cast<long long>(r->chunks));
    if (auto s = (*c)->prepare_vector_index(); !s)
      std::printf("note: the HNSW index was not built (%s); queries will try again\n",
                  s.error().message.c_str());
  } else
    std::printf(
        "stopped after --limit %d: the old index still serves queries; run again to go on\n",
        a.limit);
  return 0;
}

}  // namespace

void register_rag_reindex(CLI::App& rag, int& exit_code) {
  auto args = std::make_shared<ReindexArgs>();
  auto* r = rag.add_subcommand("reindex", "migrate a collection to another embedder");
  r->add_option("-c,--collection", args->collection, "collection name")->required();
  r->add_option("--embed", args->embed, "the new embedding model (alias or .gguf), or none")
      ->required();
  r->add_option("--chunk-tokens", args->chunk_tokens, "tokens per chunk (default 256)");
  r->add_option("--overlap", args->overlap, "tokens shared by neighbouring chunks (default 32)");
  r->add_option("--limit", args->limit,
                "stop after embedding this many documents (resumable; default: all)");
  r->callback([args, &exit_code] { exit_code = run_reindex(*args); });
}

}  // namespace hearth::cli
