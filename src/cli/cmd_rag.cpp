// `hearth rag add|sync|query|ask|list|remove` (eval, reindex: cmd_rag_*.cpp): collections of your
// own files, indexed locally (src/rag, docs/rag.md).
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "cli/commands.h"
#include "engine/chat/model_template.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/tokenizer.h"
#include "rag/answer.h"
#include "rag/collection.h"

namespace hearth::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hearth::rag;

// When a new collection names no embedder, this one is used if it is already downloaded;
// otherwise the collection is BM25-only (nothing is fetched behind the user's back).
constexpr const char* kDefaultEmbedder = kRagDefaultEmbedder;

void print_error(const char* command, const std::string& message) {
  std::fprintf(stderr, "hearth rag %s: %s\n", command, message.c_str());
}

// The GGUF file a --embed or -m value names: a local path, or a catalog alias already cached.
Result<fs::path> model_file(const std::string& spec, const char* what) {
  const auto home = catalog::hearth_home();
  auto cat = catalog::Catalog::load(home);
  if (!cat) return std::unexpected(cat.error());
  auto ref = catalog::resolve(*cat, spec, catalog::Machine::detect());
  if (!ref) return std::unexpected(ref.error());
  if (ref->kind == catalog::ModelRef::Kind::kLocalFile) return ref->local_path;
  const auto cached = catalog::cache_lookup(home, ref->variant, false);
  if (cached.state != catalog::CacheState::kCached)
    return not_found(std::string(what) + " '" + spec +
                     "' is not downloaded: run `hearth model download " + spec + "`" +
                     (std::string(what) == "embedding model"
                          ? ", or use --embed none for BM25-only retrieval"
                          : ""));
  return cached.path;
}

Result<fs::path> embedder_file(const std::string& spec) {
  return model_file(spec, "embedding model");
}

Result<std::unique_ptr<Embedder>> load_embedder(const std::string& spec) {
  auto file = embedder_file(spec);
  if (!file) return std::unexpected(file.error());
  return Embedder::load(spec, *file);
}

// The embedder an add/sync uses: --embed if given, else the collection's, else the default
// (when cached), else none. Null = BM25-only.
Result<std::unique_ptr<Embedder>> embedder_for_ingest(Collection& c, const std::string& flag,
                                                      std::string& note) {
  auto stored = c.embedder_identity();
  if (!stored) return std::unexpected(stored.error());
  std::string spec = flag;
  if (spec.empty() && *stored) spec = (*stored)->model;
  if (spec.empty()) {
    if (embedder_file(kDefaultEmbedder)) {
      spec = kDefaultEmbedder;
    } else {
      note = std::string("no embedding model: BM25-only, chunked by approximate token count (") +
             kDefaultEmbedder + " is not downloaded)";
      return std::unique_ptr<Embedder>();
    }
  }
  if (spec == "none") {
    note =
        flag == "none"
            ? "--embed none: BM25-only, chunked by approximate token count (about 4 bytes a token)"
            : "collection '" + c.name() +
                  "' is BM25-only (no embedder): chunked by approximate token count";
    return std::unique_ptr<Embedder>();
  }
  // The stored file first: the alias might now resolve to another variant.
  if (flag.empty() && *stored && !(*stored)->path.empty() && fs::exists((*stored)->path))
    return Embedder::load((*stored)->model, (*stored)->path);
  return load_embedder(spec);
}

struct IngestArgs {
  std::string collection;
  std::vector<std::string> paths;
  std::string embed;
  int chunk_tokens = 256;
  int overlap = 32;
  double max_file_mb = 64;
};

Result<AddOptions> add_options(const IngestArgs& a) {
  if (a.chunk_tokens < 16 || a.chunk_tokens > 8192)
    return invalid_input("--chunk-tokens must be between 16 and 8192 (got " +
                         std::to_string(a.chunk_tokens) + ")");
  if (a.overlap < 0 || a.overlap >= a.chunk_tokens / 2)
    return invalid_input("--overlap must be between 0 and half of --chunk-tokens (got " +
                         std::to_string(a.overlap) + ")");
  if (!(a.max_file_mb > 0 && a.max_file_mb <= 4096))
    return invalid_input("--max-file-mb must be between 0 and 4096");
  AddOptions o;
  o.chunking = ChunkOptions{a.chunk_tokens, a.overlap};
  o.parsing.max_file_bytes = static_cast<int64_t>(a.max_file_mb * 1024 * 1024);
  return o;
}

int report(const char* command, const std::string& collection,
           const std::vector<FileOutcome>& outcomes, const std::string& note) {
  int counts[6] = {0, 0, 0, 0, 0, 0};
  int64_t chunks = 0;
  bool truncated = false;
  for (const auto& o : outcomes) {
    ++counts[o.kind];
    if (o.kind == FileOutcome::kAdded || o.kind == FileOutcome::kUpdated) chunks += o.chunks;
    truncated = truncated || o.truncated;
    if (o.kind == FileOutcome::kUnchanged) continue;
    if (o.reason.empty() || o.kind == FileOutcome::kRemoved)
      std::printf("%-9s %s (%d chunks)\n", to_string(o.kind), o.path.c_str(), o.chunks);
    else
      std::printf("%-9s %s: %s\n", to_string(o.kind), o.path.c_str(), o.reason.c_str());
  }
  std::printf(
      "collection %s: %d added, %d updated, %d unchanged, %d skipped, %d removed, %d failed; %lld "
      "new chunks\n",
      collection.c_str(), counts[FileOutcome::kAdded], counts[FileOutcome::kUpdated],
      counts[FileOutcome::kUnchanged], counts[FileOutcome::kSkipped], counts[FileOutcome::kRemoved],
      counts[FileOutcome::kFailed], static_cast<long long>(chunks));
  if (!note.empty()) std::printf("note: %s\n", note.c_str());
  if (truncated)
    std::printf(
        "note: some chunks were longer than the embedder's maximum sequence and were cut to it\n");
  (void)command;
  return counts[FileOutcome::kFailed] ? 1 : 0;
}

int run_ingest(const char* command, const IngestArgs& a, bool is_sync) {
  auto options = add_options(a);
  if (!options) return print_error(command, options.error().message), 2;
  auto c = Collection::open(a.collection, /*create=*/!is_sync);
  if (!c)
    return print_error(command, c.error().message),
           c.error().kind == ErrorKind::kInvalidInput ? 2 : 1;
  std::string note;
  auto embedder = embedder_for_ingest(**c, a.embed, note);
  if (!embedder) return print_error(command, embedder.error().message), 1;
  if (auto s = (*c)->bind_embedder(embedder->get()); !s)
    return print_error(command, s.error().message), 1;
  std::vector<FileOutcome> outcomes;
  if (is_sync) {
    outcomes = (*c)->sync(embedder->get(), *options);
  } else {
    std::vector<fs::path> paths(a.paths.begin(), a.paths.end());
    outcomes = (*c)->add_paths(paths, embedder->get(), *options);
  }
  const int code = report(command, a.collection, outcomes, note);
  // A large collection's HNSW index is built now rather than by the next query.
  if (auto s = (*c)->prepare_vector_index(); !s)
    std::printf("note: the HNSW index was not built (%s); queries will try again\n",
                s.error().message.c_str());
  return code;
}

struct QueryArgs {
  std::string collection;
  std::string question;
  int k = 5;
  bool as_json = false;
  std::string embed;
  bool exact = false;
};

std::string one_line(const std::string& s, size_t max) {
  std::string out;
  for (char c : s) {
    const bool space = c == '\n' || c == '\r' || c == '\t' || c == ' ';
    if (space) {
      if (!out.empty() && out.back() != ' ') out += ' ';
    } else {
      out += c;
    }
  }
  if (out.size() > max) {
    size_t cut = max;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80)
      --cut;  // whole characters
    out = out.substr(0, cut) + "...";
  }
  return out;
}

int run_query(const QueryArgs& a) {
  auto c = Collection::open(a.collection, /*create=*/false);
  if (!c) return print_error("query", c.error().message), 1;
  auto stored = (*c)->embedder_identity();
  if (!stored) return print_error("query", stored.error().message), 1;
  std::unique_ptr<Embedder> embedder;
  std::string mode = "bm25";
  if (a.embed != "none" && ((*stored && (*stored)->model != "none") || !a.embed.empty())) {
    Result<std::unique_ptr<Embedder>> loaded = std::unexpected(Error{});
    if (a.embed.empty() && !(*stored)->path.empty() && fs::exists((*stored)->path))
      loaded = Embedder::load((*stored)->model, (*stored)->path);
    else
      loaded = load_embedder(a.embed.empty() ? (*stored)->model : a.embed);
    if (loaded) {
      embedder = std::move(*loaded);
      mode = "hybrid";
    } else if (!a.embed.empty()) {
      return print_error("query", loaded.error().message), 1;
    } else {
      std::fprintf(stderr, "hearth rag query: note: embedder unavailable (%s); BM25-only results\n",
                   loaded.error().message.c_str());
    }
  }
  QueryOptions options;
  options.exact = a.exact;
  auto hits = (*c)->query(a.question, a.k, embedder.get(), options);
  if (!hits)
    return print_error("query", hits.error().message),
           hits.error().kind == ErrorKind::kInvalidInput ? 2 : 1;
  if (a.as_json) {
    json results = json::array();
    for (size_t i = 0; i < hits->size(); ++i) {
      const Hit& h = (*hits)[i];
      json r = {{"rank", i + 1},
                {"path", h.path},
                {"page", h.page},
                {"heading", h.heading},
                {"char_start", h.char_start},
                {"char_end", h.char_end},
                {"score", h.score},
                {"quote", h.quote}};
      r["bm25_rank"] = h.bm25_rank ? json(*h.bm25_rank) : json(nullptr);
      r["vector_rank"] = h.vector_rank ? json(*h.vector_rank) : json(nullptr);
      results.push_back(std::move(r));
    }
    json out = {
        {"collection", a.collection}, {"query", a.question}, {"mode", mode}, {"results", results}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  if (hits->empty())
    std::printf("no results in collection %s (%s)\n", a.collection.c_str(), mode.c_str());
  for (size_t i = 0; i < hits->size(); ++i) {
    const Hit& h = (*hits)[i];
    std::string where = h.path;
    if (h.page > 0) where += "  page " + std::to_string(h.page);
    if (!h.heading.empty()) where += "  \xC2\xA7 " + h.heading;
    std::printf("[%zu] %s  bytes %lld-%lld  score %.4f\n    %s\n", i + 1, where.c_str(),
                static_cast<long long>(h.char_start), static_cast<long long>(h.char_end), h.score,
                one_line(h.quote, 240).c_str());
  }
  return 0;
}

struct AskArgs {
  QueryArgs query;
  std::string model;
  int max_tokens = 512;
  int ctx = 0;
  float temperature = 0.0f;
};

std::string where_of(const Hit& h) {
  std::string where = h.path;
  if (h.page > 0) where += "  page " + std::to_string(h.page);
  if (!h.heading.empty()) where += "  \xC2\xA7 " + h.heading;
  return where + "  bytes " + std::to_string(h.char_start) + "-" + std::to_string(h.char_end);
}

json hit_json(const Hit& h, size_t n) {
  return {{"n", n},
          {"path", h.path},
          {"page", h.page},
          {"heading", h.heading},
          {"char_start", h.char_start},
          {"char_end", h.char_end},
          {"quote", h.quote}};
}

int run_ask(const AskArgs& a) {
  if (a.max_tokens < 1 || a.max_tokens > 32768)
    return print_error("ask", "--max-tokens must be between 1 and 32768"), 2;
  if (a.ctx < 0) return print_error("ask", "--ctx must not be negative"), 2;
  auto c = Collection::open(a.query.collection, /*create=*/false);
  if (!c) return print_error("ask", c.error().message), 1;
  auto stored = (*c)->embedder_identity();
  if (!stored) return print_error("ask", stored.error().message), 1;
  std::unique_ptr<Embedder> embedder;
  if (*stored && (*stored)->model != "none" && fs::exists((*stored)->path)) {
    auto loaded = Embedder::load((*stored)->model, (*stored)->path);
    if (loaded) embedder = std::move(*loaded);
  }
  auto hits = (*c)->query(a.query.question, a.query.k, embedder.get());
  if (!hits)
    return print_error("ask", hits.error().message),
           hits.error().kind == ErrorKind::kInvalidInput ? 2 : 1;
  auto file = model_file(a.model, "model");
  if (!file) return print_error("ask", file.error().message), 1;
  auto model = Model::load(*file, ModelOptions{.n_threads = 0, .n_ctx = a.ctx});
  if (!model) return print_error("ask", model.error().message), 1;
  if ((*model)->info().embedding_only)
    return print_error("ask", "'" + a.model + "' is an embedding model, not a chat model"), 2;
  const Tokenizer& tokenizer = (*model)->tokenizer();
  auto chat_template = chat::model_chat_template((*model)->file(), tokenizer);
  if (!chat_template) return print_error("ask", chat_template.error().message), 1;
  auto session = Session::create(*model);
  if (!session) return print_error("ask", session.error().message), 1;
  const int n_ctx = session->n_ctx();
  const int room = n_ctx - a.max_tokens;
  if (room < 16)
    return print_error("ask", "--max-tokens " + std::to_string(a.max_tokens) +
                                  " leaves no room for a prompt in a context of " +
                                  std::to_string(n_ctx)),
           2;
  auto render = [&](const std::string& system, const std::string& user) {
    chat::ChatRequest request;
    request.messages.push_back({{"role", "system"}, {"content", system}});
    request.messages.push_back({{"role", "user"}, {"content", user}});
    return chat::chat_prompt_tokens(*chat_template, tokenizer, request);
  };
  auto prompt = build_grounded_prompt(a.query.question, *hits, room, render);
  if (!prompt)
    return print_error("ask", prompt.error().message),
           prompt.error().kind == ErrorKind::kInvalidInput ? 2 : 1;
  Generation generation(*session);
  GenerateOptions options;
  options.max_tokens = a.max_tokens;
  options.sampling.temperature = a.temperature;
  auto result = generation.run(prompt->tokens, options);
  if (!result) return print_error("ask", result.error().message), 1;
  const CheckedAnswer answer =
      check_citations(result->text, static_cast<int>(prompt->sources.size()));
  if (a.query.as_json) {
    json citations = json::array(), sources = json::array(), dropped = json::array();
    for (int n : answer.cited) citations.push_back(hit_json(prompt->sources[n - 1], n));
    for (size_t i = 0; i < prompt->sources.size(); ++i)
      sources.push_back(hit_json(prompt->sources[i], i + 1));
    for (const Hit& h : prompt->dropped)
      dropped.push_back({{"path", h.path},
                         {"page", h.page},
                         {"char_start", h.char_start},
                         {"char_end", h.char_end}});
    json out = {{"answer", answer.text},
                {"citations", citations},
                {"sources", sources},
                {"dropped_sources", dropped},
                {"removed_citations", answer.removed},
                {"finish_reason", std::string(finish_reason_name(result->finish))},
                {"prompt_tokens", prompt->tokens.size()},
                {"completion_tokens", result->tokens.size()}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
  }
  std::printf("%s\n\nSources:\n", answer.text.c_str());
  for (size_t i = 0; i < prompt->sources.size(); ++i) {
    const bool cited = std::find(answer.cited.begin(), answer.cited.end(),
                                 static_cast<int>(i + 1)) != answer.cited.end();
    std::printf("[%zu]%s %s\n", i + 1, cited ? "*" : " ", where_of(prompt->sources[i]).c_str());
  }
  if (!prompt->dropped.empty())
    std::printf(
        "note: %zu lower-ranked source(s) did not fit the context (%d tokens) and were left out\n",
        prompt->dropped.size(), n_ctx);
  if (answer.removed)
    std::printf("note: removed %d citation(s) that named no supplied source\n", answer.removed);
  return 0;
}

int run_list(const std::string& collection) {
  if (!collection.empty()) {
    auto c = Collection::open(collection, false);
    if (!c) return print_error("list", c.error().message), 1;
    auto docs = (*c)->documents();
    if (!docs) return print_error("list", docs.error().message), 1;
    std::printf("%-8s %-9s %7s  %s\n", "STATUS", "TYPE", "CHUNKS", "PATH");
    for (const auto& d : *docs)
      std::printf("%-8s %-9s %7d  %s%s%s\n", d.status.c_str(), d.type.c_str(), d.chunks,
                  d.path.c_str(), d.reason.empty() ? "" : "  -- ", d.reason.c_str());
    return 0;
  }
  const auto names = list_collections();
  if (names.empty()) {
    std::printf("no collections under %s; `hearth rag add PATHS -c NAME` makes one\n",
                collections_dir().c_str());
    return 0;
  }
  std::printf("%-20s %6s %8s %8s %-24s %s\n", "NAME", "DOCS", "SKIPPED", "CHUNKS", "EMBEDDER",
              "SIZE");
  for (const auto& n : names) {
    auto c = Collection::open(n, false);
    if (!c) continue;
    auto info = (*c)->info();
    if (!info) continue;
    std::printf("%-20s %6lld %8lld %8lld %-24s %s\n", n.c_str(),
                static_cast<long long>(info->documents), static_cast<long long>(info->skipped),
                static_cast<long long>(info->chunks),
                info->embedder.model.empty() ? "-" : info->embedder.model.c_str(),
                catalog::format_bytes(static_cast<uint64_t>(info->bytes)).c_str());
  }
  return 0;
}

int run_remove(const std::string& collection, const std::string& path) {
  if (path.empty()) {
    if (auto s = delete_collection(collection); !s)
      return print_error("remove", s.error().message), 1;
    std::printf("removed collection %s\n", collection.c_str());
    return 0;
  }
  auto c = Collection::open(collection, false);
  if (!c) return print_error("remove", c.error().message), 1;
  if (auto s = (*c)->remove_document(path); !s) return print_error("remove", s.error().message), 1;
  std::printf("removed %s from %s\n", path.c_str(), collection.c_str());
  return 0;
}

}  // namespace

Result<std::filesystem::path> rag_embedder_file(const std::string& spec) {
  return embedder_file(spec);
}

Result<std::filesystem::path> local_model_file(const std::string& spec, const char* what) {
  return model_file(spec, what);
}

void register_rag(CLI::App& app, int& exit_code) {
  auto* rag =
      app.add_subcommand("rag", "index your own files and search them (local RAG; docs/rag.md)");
  rag->require_subcommand(1);

  auto ingest = std::make_shared<IngestArgs>();
  auto* add = rag->add_subcommand("add", "parse, chunk, embed and index files and folders");
  add->add_option("paths", ingest->paths, "files or folders (txt, md, html, pdf, source code)")
      ->required();
  add->add_option("-c,--collection", ingest->collection, "collection name")->required();
  add->add_option("--embed", ingest->embed,
                  "embedding model (alias or .gguf), or none for BM25-only");
  add->add_option("--chunk-tokens", ingest->chunk_tokens, "tokens per chunk (default 256)");
  add->add_option("--overlap", ingest->overlap,
                  "tokens shared by neighbouring chunks (default 32)");
  add->add_option("--max-file-mb", ingest->max_file_mb,
                  "larger files are skipped with a reason (default 64)");
  add->callback([ingest, &exit_code] { exit_code = run_ingest("add", *ingest, false); });

  auto* sync = rag->add_subcommand("sync", "re-index changed files, drop deleted ones");
  sync->add_option("-c,--collection", ingest->collection, "collection name")->required();
  sync->add_option("--chunk-tokens", ingest->chunk_tokens, "tokens per chunk (default 256)");
  sync->add_option("--overlap", ingest->overlap,
                   "tokens shared by neighbouring chunks (default 32)");
  sync->add_option("--max-file-mb", ingest->max_file_mb,
                   "larger files are skipped with a reason (default 64)");
  sync->callback([ingest, &exit_code] { exit_code = run_ingest("sync", *ingest, true); });

  auto query = std::make_shared<QueryArgs>();
  auto* q = rag->add_subcommand("query", "the chunks that best answer a question");
  q->add_option("question", query->question, "the question")->required();
  q->add_option("-c,--collection", query->collection, "collection name")->required();
  q->add_option("-k,--k", query->k, "results (default 5)");
  q->add_flag("--json", query->as_json, "JSON output");
  q->add_option("--embed", query->embed, "embedder (default: the collection's); none = BM25-only");
  q->add_flag("--exact", query->exact, "exact vector scan even where an HNSW index exists");
  q->callback([query, &exit_code] { exit_code = run_query(*query); });

  auto ask = std::make_shared<AskArgs>();
  ask->query.k = 6;
  auto* ak =
      rag->add_subcommand("ask", "answer a question from the collection, citing sources as [n]");
  ak->add_option("question", ask->query.question, "the question")->required();
  ak->add_option("-c,--collection", ask->query.collection, "collection name")->required();
  ak->add_option("-m,--model", ask->model,
                 "chat model (catalog alias already downloaded, or .gguf)")
      ->required();
  ak->add_option("-k,--k", ask->query.k, "chunks retrieved (default 6)");
  ak->add_option("--max-tokens", ask->max_tokens, "answer tokens (default 512)");
  ak->add_option("--ctx", ask->ctx, "context size (default: the model's, at most 4096)");
  ak->add_option("--temp", ask->temperature, "temperature (default 0: greedy)");
  ak->add_flag("--json", ask->query.as_json, "JSON output");
  ak->callback([ask, &exit_code] { exit_code = run_ask(*ask); });

  auto list_name = std::make_shared<std::string>();
  auto* list = rag->add_subcommand("list", "collections, or with -c the documents of one");
  list->add_option("-c,--collection", *list_name, "list this collection's documents");
  list->callback([list_name, &exit_code] { exit_code = run_list(*list_name); });

  auto remove_args = std::make_shared<std::pair<std::string, std::string>>();
  auto* remove = rag->add_subcommand("remove", "delete a collection, or one document from it");
  remove->add_option("-c,--collection", remove_args->first, "collection name")->required();
  remove->add_option("path", remove_args->second, "only this document");
  remove->callback([remove_args, &exit_code] {
    exit_code = run_remove(remove_args->first, remove_args->second);
  });

  register_rag_eval(*rag, exit_code);
  register_rag_reindex(*rag, exit_code);
}

}  // namespace hearth::cli
