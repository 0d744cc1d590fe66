// `hearth serve`: the OpenAI-compatible HTTP server.
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "cli/commands.h"
#include "engine/gguf/gguf.h"
#include "engine/runtime/speculative.h"
#include "http/server.h"
#include "rag/rag_http.h"
#include "router/config.h"
#include "router/router.h"
#include "server/service.h"

namespace hearth::cli {
namespace {

struct ServeArgs {
  std::vector<std::string> models;
  std::vector<std::string> aliases;
  std::string host = "127.0.0.1";
  int port = 8000;
  int ollama_port = -1;           // -1: no second listener
  std::string parallel = "auto";  // or a slot count
  int ctx_size = 0;
  int threads = 0;
  int max_queue = 64;
  int max_stored_responses = 1000;
  std::string api_key;
  std::string api_key_file;
  std::vector<std::string> cors_origins;
  size_t max_body_mb = 16;
  int64_t memory_budget_mb = -1;  // -1: half of the machine's RAM
  int ttl_seconds = 600;
  bool no_download = false;
  bool no_ui = false;
  std::string wasm_dir;  // --wasm-dir: the browser engine's wasm build
  int max_connections = 16384;
  std::string tls_cert;
  std::string tls_key;
  std::string reasoning_format = "deepseek";  // "none": <think> text stays in the content
  std::string router_file;                    // empty: $HEARTH_HOME/router.toml when it exists
  int64_t max_upload_mb = 64;                 // POST /v1/files
  std::vector<std::string> allowed_hosts;     // Host names accepted beside loopback ones
  std::string rag_embed;  // embedder of new vector stores; empty: the rag default if downloaded
  std::string speculate = "off";
  std::string draft;  // draft model for --speculate draft (path or downloaded alias)
  int draft_max = 8;
  int speculate_max_streams = 2;
};

// Fills the HTTP options from the flags; false (after saying why) when a key file is unusable.
bool http_options_from(const ServeArgs& args, http::ServerOptions& out) {
  out.host = args.host;
  out.port = args.port;
  out.cors_origins = args.cors_origins;
  // Bound to loopback, the only legitimate Host names are loopback ones: anything else is a
  // page that re-pointed its own name at 127.0.0.1 (DNS rebinding). Bound to an interface,
  // any name may be in use (a LAN name, a proxy) and the API key is the guard.
  out.require_loopback_host = http::Server::is_loopback_host(args.host);
  out.allowed_hosts = args.allowed_hosts;
  out.max_body_bytes = args.max_body_mb << 20;
  out.max_connections = args.max_connections;
  out.tls_cert_file = args.tls_cert;
  out.tls_key_file = args.tls_key;
  if (out.tls_cert_file.empty() != out.tls_key_file.empty()) {
    std::fprintf(stderr, "hearth serve: --tls-cert and --tls-key go together\n");
    return false;
  }
  if (!args.api_key.empty()) out.api_keys.push_back(args.api_key);
  if (args.api_key_file.empty()) return true;
  std::ifstream in(args.api_key_file);
  if (!in) {
    std::fprintf(stderr, "hearth serve: cannot read API key file %s\n", args.api_key_file.c_str());
    return false;
  }
  for (std::string line; std::getline(in, line);) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty() && line[0] != '#') out.api_keys.push_back(line);
  }
  if (out.api_keys.empty()) {
    std::fprintf(stderr, "hearth serve: %s holds no key\n", args.api_key_file.c_str());
    return false;
  }
  return true;
}

// Fills the scheduler's speculative decoding options and loads the draft model; false (after
// saying why) when the flags are wrong or the draft model does not load.
bool speculation_from(const ServeArgs& args, server::SchedulerOptions& out) {
  auto mode = parse_speculate_mode(args.speculate);
  if (!mode) {
    std::fprintf(stderr, "hearth serve: %s\n", mode.error().message.c_str());
    return false;
  }
  if (!args.draft.empty() && *mode == SpeculateMode::kOff) *mode = SpeculateMode::kDraft;
  out.speculative.mode = *mode;
  out.speculative.draft_max = args.draft_max;
  out.speculative_max_streams = args.speculate_max_streams;
  if (auto s = out.speculative.validate(); !s) {
    std::fprintf(stderr, "hearth serve: %s\n", s.error().message.c_str());
    return false;
  }
  if (*mode != SpeculateMode::kDraft) return true;
  if (args.draft.empty()) {
    std::fprintf(stderr, "hearth serve: --speculate draft needs --draft MODEL\n");
    return false;
  }
  auto file = local_model_file(args.draft, "draft model");
  if (!file) {
    std::fprintf(stderr, "hearth serve: --draft: %s\n", file.error().message.c_str());
    return false;
  }
  auto model = Model::load(*file, ModelOptions{.n_threads = args.threads});
  if (!model) {
    std::fprintf(stderr, "hearth serve: --draft: %s\n", model.error().message.c_str());
    return false;
  }
  out.draft_model = std::move(*model);
  return true;
}

int run_serve(const ServeArgs& args) {
  // Signals are taken by a dedicated thread (sigwait), so every other thread must block them;
  // set the mask before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  server::ServiceOptions options;
  if (!http_options_from(args, options.http)) return 1;
  if (args.aliases.size() > args.models.size()) {
    std::fprintf(stderr, "hearth serve: more --alias than -m options\n");
    return 1;
  }
  for (size_t i = 0; i < args.models.size(); ++i) {
    options.models.push_back({args.models[i], i < args.aliases.size() ? args.aliases[i] : ""});
  }
  options.ollama_port = args.ollama_port;
  options.home = catalog::hearth_home();
  options.allow_download = !args.no_download;
  options.web_ui = !args.no_ui;
  options.wasm_dir = args.wasm_dir;
  options.scheduler.n_slots = args.parallel == "auto" ? 0 : std::stoi(args.parallel);
  options.scheduler.n_ctx = args.ctx_size;
  options.scheduler.n_threads = args.threads;
  options.scheduler.max_queue = args.max_queue;
  options.max_stored_responses = static_cast<size_t>(args.max_stored_responses);
  options.scheduler.split_reasoning = args.reasoning_format != "none";
  options.limits.default_ttl_seconds = args.ttl_seconds;
  options.limits.memory_budget_bytes = args.memory_budget_mb >= 0
                                           ? static_cast<uint64_t>(args.memory_budget_mb) << 20
                                           : catalog::Machine::detect().memory_total / 2;
  if (!speculation_from(args, options.scheduler)) return 1;
  if (const auto& draft = options.scheduler.draft_model;
      draft && options.limits.memory_budget_bytes) {
    // One draft model serves every model's slots: its weights come off the budget once here,
    // its per-slot caches are counted with each model that uses them.
    const uint64_t draft_bytes = draft->file().bytes().size();
    if (draft_bytes >= options.limits.memory_budget_bytes) {
      std::fprintf(stderr,
                   "hearth serve: the draft model (%llu MiB) does not fit the memory budget "
                   "(%llu MiB, --memory-budget)\n",
                   static_cast<unsigned long long>(draft_bytes >> 20),
                   static_cast<unsigned long long>(options.limits.memory_budget_bytes >> 20));
      return 1;
    }
    options.limits.memory_budget_bytes -= draft_bytes;
    std::fprintf(stderr, "hearth serve: the draft model holds %llu MiB of the memory budget\n",
                 static_cast<unsigned long long>((draft_bytes + (1u << 20) - 1) >> 20));
  }
  options.scheduler.memory_budget = options.limits.memory_budget_bytes;

  std::filesystem::path router_file = args.router_file;
  if (router_file.empty()) {
    std::error_code ec;
    const auto default_file = options.home / "router.toml";
    if (std::filesystem::exists(default_file, ec)) router_file = default_file;
  }
  if (!router_file.empty()) {
    auto config = router::load_router_config(router_file);
    if (!config) {
      std::fprintf(stderr, "hearth serve: %s\n", config.error().message.c_str());
      return 1;
    }
    auto hybrid = router::HybridRouter::create(std::move(*config));
    if (!hybrid) {
      std::fprintf(stderr, "hearth serve: %s\n", hybrid.error().message.c_str());
      return 1;
    }
    std::fprintf(stderr, "hearth serve: router %s: routes", router_file.c_str());
    for (const auto& name : (*hybrid)->route_names()) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
    options.router = std::move(*hybrid);
  }

  rag::RagServiceOptions rag_options;
  rag_options.files_dir = options.home / "files";
  rag_options.max_upload_bytes = args.max_upload_mb << 20;
  if (args.rag_embed != "none") {
    // As `hearth rag add`: the default embedder only when it is already downloaded.
    const std::string spec = args.rag_embed.empty() ? kRagDefaultEmbedder : args.rag_embed;
    auto file = rag_embedder_file(spec);
    if (file) {
      rag_options.embedder_name = spec;
      rag_options.embedder_path = *file;
    } else if (!args.rag_embed.empty()) {
      std::fprintf(stderr, "hearth serve: --rag-embed: %s\n", file.error().message.c_str());
      return 1;
    }
  }
  auto rag_service = rag::make_rag_service(std::move(rag_options));
  if (rag_service) {
    options.rag = std::move(*rag_service);
  } else {
    // The rest of the server does not need it.
    std::fprintf(stderr, "hearth serve: files and vector stores are off: %s\n",
                 rag_service.error().message.c_str());
  }

  auto service = server::Service::create(std::move(options));
  if (!service) {
    std::fprintf(stderr, "hearth serve: %s\n", service.error().message.c_str());
    return 1;
  }

  std::thread signal_thread([&] {
    int received = 0;
    sigwait(&signals, &received);
    if (received == 0) return;
    std::fprintf(stderr, "hearth serve: shutting down, finishing requests in flight\n");
    (*service)->stop(/*drain=*/true);
  });
  auto status = (*service)->run();
  // Wake the signal thread if run() ended on its own (a bind failure).
  pthread_kill(signal_thread.native_handle(), SIGTERM);
  signal_thread.join();
  if (!status) {
    std::fprintf(stderr, "hearth serve: %s\n", status.error().message.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

void register_serve(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("serve", "Serve models over an OpenAI-compatible HTTP API");
  auto args = std::make_shared<ServeArgs>();
  cmd->add_option(
      "-m,--model", args->models,
      "GGUF file, catalog alias or hf://owner/repo/file.gguf (repeatable; none: load on demand)");
  cmd->add_option("--alias", args->aliases, "Model id for the matching -m (repeatable)");
  cmd->add_option("--host", args->host, "Address to bind (0.0.0.0 for all interfaces)");
  cmd->add_option("--allowed-host", args->allowed_hosts,
                  "Also accept this Host name while bound to loopback, e.g. behind a proxy "
                  "(repeatable; '*': any)");
  cmd->add_option("--port", args->port, "Port")->check(CLI::Range(0, 65535));
  cmd->add_option("--ollama-port", args->ollama_port,
                  "Also serve every route (Ollama's /api/* among them) on this port, e.g. 11434")
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--parallel", args->parallel,
                  "Concurrent requests per model (slots), 1-64, or auto: up to 16, as many as "
                  "the memory budget allows")
      ->check(CLI::IsMember({"auto"}) | (CLI::TypeValidator<int>() & CLI::Range(1, 64)));
  cmd->add_option("--ctx-size,-c", args->ctx_size, "Context size per slot (0: model default)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", args->threads, "Threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("--max-queue", args->max_queue, "Requests that may wait for a slot")
      ->check(CLI::Range(0, 100000));
  cmd->add_option("--responses-max", args->max_stored_responses,
                  "Stored Responses kept (newest first) for GET and previous_response_id")
      ->check(CLI::Range(1, 10000000));
  cmd->add_option("--reasoning-format", args->reasoning_format,
                  "deepseek: <think> text goes to reasoning_content; none: it stays inline")
      ->check(CLI::IsMember({"deepseek", "none"}));
  cmd->add_option("--api-key", args->api_key, "Require this key as 'Authorization: Bearer KEY'");
  cmd->add_option("--api-key-file", args->api_key_file, "File with one accepted key per line");
  cmd->add_option("--cors-origin", args->cors_origins, "Allowed browser origin, or * (repeatable)");
  cmd->add_option("--max-body-mb", args->max_body_mb, "Largest accepted request body (MiB)")
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--max-connections", args->max_connections,
                  "Open connections held at once; more are answered 503")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--tls-cert", args->tls_cert,
                  "PEM certificate chain: serve https (with --tls-key)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--tls-key", args->tls_key, "PEM private key for --tls-cert")
      ->check(CLI::ExistingFile);
  cmd->add_option("--memory-budget", args->memory_budget_mb,
                  "MiB that loaded models may take; least recently used idle models are unloaded "
                  "to make room "
                  "(default: half the RAM)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  cmd->add_option("--ttl", args->ttl_seconds,
                  "Idle seconds before an on-demand model is unloaded (0: never)")
      ->check(CLI::Range(0, 86400 * 365));
  cmd->add_flag("--no-download", args->no_download, "Load only models already in the cache");
  cmd->add_option("--speculate", args->speculate,
                  "Speculative decoding by default: off, lookup (n-grams of the context) or "
                  "draft (--draft); a request's \"speculative\" field overrides it")
      ->capture_default_str();
  cmd->add_option("--draft", args->draft,
                  "Draft model (path or downloaded alias, same vocabulary as the served models); "
                  "implies --speculate draft");
  cmd->add_option("--draft-max", args->draft_max, "Tokens drafted per verification at most")
      ->capture_default_str();
  cmd->add_option("--speculate-max-streams", args->speculate_max_streams,
                  "Speculate only while at most this many requests are generating")
      ->capture_default_str();
  cmd->add_option("--max-upload-mb", args->max_upload_mb,
                  "Largest file POST /v1/files accepts, in MiB (default 64)")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 20));
  cmd->add_option("--rag-embed", args->rag_embed,
                  "Embedding model of new vector stores (alias or .gguf), or none for BM25-only "
                  "(default: nomic-embed-text when downloaded)");
  cmd->add_flag("--no-ui", args->no_ui,
                "No web app at / and no /ui/api (conversations); / answers as Ollama does");
  cmd->add_option("--wasm-dir", args->wasm_dir,
                  "Folder with hearth_wasm.js/.wasm for the in-browser engine (default: wasm/ or "
                  "../build-wasm/ beside the binary; docs/wasm.md)");
  cmd->add_option("--router", args->router_file,
                  "Router config (docs/router.md; default: $HEARTH_HOME/router.toml if present)");
  cmd->callback([args, &exit_code] { exit_code = run_serve(*args); });
}

}  // namespace hearth::cli
