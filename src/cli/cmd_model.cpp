// `hearth model list|info|download|load|unload|run`: the catalog from the command line.
// load/unload/run talk to the background service (see cmd_service.cpp) over HTTP.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "catalog/download.h"
#include "cli/commands.h"
#include "cli/service_client.h"

namespace hearth::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace hearth::catalog;

std::optional<Catalog> load_catalog(const char* command) {
  auto c = Catalog::load(hearth_home());
  if (!c) {
    std::fprintf(stderr, "hearth %s: %s\n", command, c.error().message.c_str());
    return std::nullopt;
  }
  for (const auto& w : c->warnings()) std::fprintf(stderr, "hearth: warning: %s\n", w.c_str());
  return std::move(*c);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

// Percent-encodes a model name for a URL path segment.
std::string url_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

struct ListArgs {
  std::string filter;
  bool cached_only = false;
};

int run_list(const ListArgs& args) {
  auto catalog = load_catalog("model list");
  if (!catalog) return 1;
  std::string task;
  if (!args.filter.empty()) {
    if (!args.filter.starts_with("task=")) {
      std::fprintf(
          stderr,
          "hearth model list: --filter takes task=NAME (chat, code, reasoning, embedding)\n");
      return 1;
    }
    task = args.filter.substr(5);
    if (std::find(std::begin(kKnownTasks), std::end(kKnownTasks), task) == std::end(kKnownTasks)) {
      std::fprintf(stderr,
                   "hearth model list: unknown task \"%s\" (chat, code, reasoning, embedding)\n",
                   task.c_str());
      return 1;
    }
  }
  const fs::path home = hearth_home();
  std::printf("%-20s %-7s %-17s %-20s %-8s %s\n", "ALIAS", "PARAMS", "TASKS", "LICENSE", "CONTEXT",
              "VARIANTS (* = cached)");
  int shown = 0;
  for (const auto& e : catalog->entries()) {
    if (!task.empty() && !e.has_task(task)) continue;
    std::vector<std::string> variants;
    bool any_cached = false;
    for (const auto& v : e.variants) {
      const bool cached = cache_lookup(home, v, false).state == CacheState::kCached;
      any_cached |= cached;
      variants.push_back(v.quantization + (cached ? "*" : "") + " " +
                         format_bytes(v.approx_bytes()));
    }
    if (args.cached_only && !any_cached) continue;
    std::printf("%-20s %-7s %-17s %-20s %-8lld %s\n", e.alias.c_str(), e.parameters.c_str(),
                join(e.tasks, ",").c_str(), e.license.c_str(),
                static_cast<long long>(e.context_length), join(variants, ", ").c_str());
    ++shown;
  }
  if (shown == 0)
    std::printf("(no models%s)\n",
                args.cached_only ? " cached: `hearth model download ALIAS` fetches one" : "");
  return 0;
}

int run_info(const std::string& spec) {
  auto catalog = load_catalog("model info");
  if (!catalog) return 1;
  auto ref = resolve(*catalog, spec, Machine::detect());
  if (!ref) {
    std::fprintf(stderr, "hearth model info: %s\n", ref.error().message.c_str());
    return 1;
  }
  if (ref->kind == ModelRef::Kind::kLocalFile) {
    std::printf("%s: a local file (`hearth inspect -m %s` shows its contents)\n",
                ref->local_path.c_str(), ref->local_path.c_str());
    return 0;
  }
  const fs::path home = hearth_home();
  if (ref->entry) {
    const Entry& e = *ref->entry;
    std::printf("alias:        %s\n", e.alias.c_str());
    std::printf("description:  %s\n", e.description.c_str());
    std::printf("family:       %s\n", e.family.c_str());
    std::printf("tasks:        %s\n", join(e.tasks, ", ").c_str());
    std::printf("license:      %s\n", e.license.c_str());
    std::printf("parameters:   %s\n", e.parameters.c_str());
    std::printf("context:      %lld tokens\n", static_cast<long long>(e.context_length));
    std::printf("variants:\n");
    for (const auto& v : e.variants) {
      const auto c = cache_lookup(home, v, false);
      std::printf("  %-8s %-10s hf://%s/%s  [%s]%s\n", v.quantization.c_str(),
                  format_bytes(v.approx_bytes()).c_str(), v.repo.c_str(), v.file.c_str(),
                  to_string(c.state),
                  // Without a pinned sum the download is checked against the hub's own (its
                  // LFS ETag), which says the bytes arrived whole, not that they are the
                  // ones the catalog's author meant.
                  v.sha256.empty() ? " sha256 not pinned (the hub's is checked at download)"
                                   : " sha256 pinned");
    }
  }
  std::printf("this machine:  %s\n",
              ref->choice_note.empty() ? display_name(*ref).c_str() : ref->choice_note.c_str());
  std::printf("cache path:    %s\n", cache_paths(home, ref->variant).file.c_str());
  return 0;
}

// Resolves and fetches what `spec` names; prints progress. The local path to load.
Result<fs::path> fetch(const std::string& spec, const char* command, bool verify_cached = false) {
  auto catalog = Catalog::load(hearth_home());
  if (!catalog) return std::unexpected(catalog.error());
  auto ref = resolve(*catalog, spec, Machine::detect());
  if (!ref) return std::unexpected(ref.error());
  if (ref->kind == ModelRef::Kind::kLocalFile) return ref->local_path;
  if (!ref->choice_note.empty())
    std::fprintf(stderr, "hearth %s: %s: %s\n", command, ref->name.c_str(),
                 ref->choice_note.c_str());
  ProgressPrinter printer(display_name(*ref));
  DownloadOptions options;
  options.verify_cached = verify_cached;
  options.on_progress = [&](const DownloadProgress& p) { printer(p); };
  options.on_message = [&](const std::string& m) {
    printer.finish();
    std::fprintf(stderr, "hearth %s: %s\n", command, m.c_str());
  };
  auto result = download(hearth_home(), ref->variant, options);
  printer.finish();
  if (!result) return std::unexpected(result.error());
  if (!result->was_cached && result->checksum_known) {
    std::fprintf(stderr, "hearth %s: %s verified (sha256 %s)\n", command,
                 display_name(*ref).c_str(), result->sha256.c_str());
  } else if (!result->was_cached) {
    std::fprintf(stderr,
                 "hearth %s: %s downloaded UNVERIFIED (sha256 %s): neither the catalog nor the "
                 "hub published a checksum to compare with\n",
                 command, display_name(*ref).c_str(), result->sha256.c_str());
  }
  return result->file;
}

int run_download(const std::string& spec) {
  auto path =
      fetch(spec, "model download", /*verify_cached=*/true);  // asked for: worth a full check
  if (!path) {
    std::fprintf(stderr, "hearth model download: %s\n", path.error().message.c_str());
    return 1;
  }
  std::printf("%s\n", path->c_str());
  return 0;
}

std::optional<ServiceState> require_service(const char* command) {
  auto s = running_service(hearth_home());
  if (!s)
    std::fprintf(stderr,
                 "hearth %s: the service is not running (`hearth service start` starts it)\n",
                 command);
  return s;
}

int load_on_service(const ServiceState& s, const std::string& spec, int ttl, const char* command) {
  std::string path = "/openai/load/" + url_encode(spec);
  if (ttl >= 0) path += "?ttl=" + std::to_string(ttl);
  auto reply = service_request(s, "GET", path);
  if (!reply) {
    std::fprintf(stderr, "hearth %s: %s\n", command, reply.error().message.c_str());
    return 1;
  }
  if (reply->status != 200) {
    std::fprintf(stderr, "hearth %s: %s\n", command, error_text(*reply).c_str());
    return 1;
  }
  return 0;
}

int run_load(const std::string& spec, int ttl) {
  auto s = require_service("model load");
  if (!s) return 1;
  // Fetch here, with a progress bar, rather than silently inside the service (same cache).
  if (auto path = fetch(spec, "model load"); !path) {
    std::fprintf(stderr, "hearth model load: %s\n", path.error().message.c_str());
    return 1;
  }
  if (int rc = load_on_service(*s, spec, ttl, "model load"); rc != 0) return rc;
  std::printf("loaded %s on %s\n", spec.c_str(), endpoint_url(*s).c_str());
  return 0;
}

int run_unload(const std::string& spec, bool force) {
  auto s = require_service("model unload");
  if (!s) return 1;
  auto reply = service_request(*s, "GET",
                               "/openai/unload/" + url_encode(spec) + (force ? "?force=true" : ""));
  if (!reply || reply->status != 200) {
    std::fprintf(stderr, "hearth model unload: %s\n",
                 reply ? error_text(*reply).c_str() : reply.error().message.c_str());
    return 1;
  }
  std::printf("unloaded %s\n", spec.c_str());
  return 0;
}

struct RunArgs {
  std::string spec;
  int port = 8000;
  int ttl = -1;
  int max_tokens = 256;
  std::string system;
};

// Streams one assistant turn to stdout; the full reply, or an Error.
Result<std::string> stream_turn(const ServiceState& s, const std::string& model,
                                const json& messages, int max_tokens) {
  json request = {
      {"model", model}, {"messages", messages}, {"stream", true}, {"max_tokens", max_tokens}};
  std::string pending, reply_text;
  auto reply = service_request(
      s, "POST", "/v1/chat/completions", request.dump(), 600, [&](const char* data, size_t n) {
        pending.append(data, n);
        for (size_t eol; (eol = pending.find('\n')) != std::string::npos;) {
          std::string line = pending.substr(0, eol);
          pending.erase(0, eol + 1);
          if (!line.starts_with("data: ") || line == "data: [DONE]") continue;
          json chunk = json::parse(line.substr(6), nullptr, false);
          if (!chunk.is_object() || !chunk.contains("choices") || !chunk["choices"].is_array() ||
              chunk["choices"].empty())
            continue;
          const json& delta = chunk["choices"][0].value("delta", json::object());
          if (delta.contains("content") && delta["content"].is_string()) {
            const std::string piece = delta["content"].get<std::string>();
            reply_text += piece;
            std::fwrite(piece.data(), 1, piece.size(), stdout);
            std::fflush(stdout);
          }
        }
        return true;
      });
  if (!reply) return std::unexpected(reply.error());
  if (reply->status != 200) return fail(error_text(*reply));
  std::printf("\n");
  return reply_text;
}

int run_run(const RunArgs& args) {
  auto path = fetch(args.spec, "model run");
  if (!path) {
    std::fprintf(stderr, "hearth model run: %s\n", path.error().message.c_str());
    return 1;
  }
  const fs::path home = hearth_home();
  auto s = running_service(home);
  if (!s) {
    std::fprintf(stderr, "hearth model run: starting the service on port %d\n", args.port);
    auto started = start_service(home, args.port, {});
    if (!started) {
      std::fprintf(stderr, "hearth model run: %s\n", started.error().message.c_str());
      return 1;
    }
    s = *started;
  }
  if (int rc = load_on_service(*s, args.spec, args.ttl, "model run"); rc != 0) return rc;
  const bool interactive = ::isatty(STDIN_FILENO) != 0;
  std::fprintf(stderr,
               "hearth model run: %s is loaded at %s/v1. Type a message; /bye ends the chat.\n",
               args.spec.c_str(), endpoint_url(*s).c_str());
  json messages = json::array();
  if (!args.system.empty()) messages.push_back({{"role", "system"}, {"content", args.system}});
  for (;;) {
    if (interactive) std::fprintf(stderr, ">>> ");
    std::string line;
    if (!std::getline(std::cin, line)) break;
    if (line == "/bye" || line == "/exit") break;
    if (line.empty()) continue;
    messages.push_back({{"role", "user"}, {"content", line}});
    auto answer = stream_turn(*s, args.spec, messages, args.max_tokens);
    if (!answer) {
      std::fprintf(stderr, "hearth model run: %s\n", answer.error().message.c_str());
      return 1;
    }
    messages.push_back({{"role", "assistant"}, {"content", *answer}});
  }
  return 0;
}

}  // namespace

void register_model(CLI::App& app, int& exit_code) {
  auto* model =
      app.add_subcommand("model", "Catalog models: list, info, download, load, unload, run");
  model->require_subcommand(1);

  auto list_args = std::make_shared<ListArgs>();
  auto* list = model->add_subcommand("list", "Models in the catalog");
  list->add_option("--filter", list_args->filter,
                   "Only models for a task: task=chat|code|reasoning|embedding");
  list->add_flag("--cached", list_args->cached_only, "Only models with a cached variant");
  list->callback([list_args, &exit_code] { exit_code = run_list(*list_args); });

  auto spec = std::make_shared<std::string>();
  auto* info =
      model->add_subcommand("info", "Details of a model and the variant this machine would use");
  info->add_option("model", *spec, "Alias, alias:quant, hf://owner/repo/file.gguf or path")
      ->required();
  info->callback([spec, &exit_code] { exit_code = run_info(*spec); });

  auto* dl =
      model->add_subcommand("download", "Fetch a model into the cache (resumable, verified)");
  dl->add_option("model", *spec, "Alias, alias:quant or hf://owner/repo/file.gguf")->required();
  dl->callback([spec, &exit_code] { exit_code = run_download(*spec); });

  auto ttl = std::make_shared<int>(-1);
  auto* load = model->add_subcommand("load", "Load a model on the running service");
  load->add_option("model", *spec, "Alias, alias:quant, hf://... or path")->required();
  load->add_option("--ttl", *ttl, "Unload after this many idle seconds (0: never)")
      ->check(CLI::Range(0, 86400 * 365));
  load->callback([spec, ttl, &exit_code] { exit_code = run_load(*spec, *ttl); });

  auto force = std::make_shared<bool>(false);
  auto* unload = model->add_subcommand("unload", "Unload a model from the running service");
  unload->add_option("model", *spec, "The name it was loaded with")->required();
  unload->add_flag("--force", *force, "Even while requests use it (they are cancelled)");
  unload->callback([spec, force, &exit_code] { exit_code = run_unload(*spec, *force); });

  auto run_args = std::make_shared<RunArgs>();
  auto* run = model->add_subcommand("run", "Download if needed, start the service, load, and chat");
  run->add_option("model", run_args->spec, "Alias, alias:quant, hf://... or path")->required();
  run->add_option("--port", run_args->port, "Port for the service if it must be started")
      ->check(CLI::Range(1, 65535));
  run->add_option("--ttl", run_args->ttl, "Idle seconds before the service unloads it")
      ->check(CLI::Range(0, 86400 * 365));
  run->add_option("-n,--max-tokens", run_args->max_tokens, "Longest reply")
      ->check(CLI::Range(1, 1 << 20));
  run->add_option("--system", run_args->system, "System prompt");
  run->callback([run_args, &exit_code] { exit_code = run_run(*run_args); });
}

}  // namespace hearth::cli
