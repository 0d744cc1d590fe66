// `hearth compare`: the same prompts through several models (local models, router routes,
// remote targets), measured from the client side, written up as a decision report
// (docs/compare.md). It runs the server `hearth serve` runs, in process on an ephemeral
// loopback port, and streams every request through its OpenAI endpoint, so a model means here
// exactly what it means to any client. The figures and the report live in src/compare/.
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "cli/commands.h"
#include "cli/compare_client.h"
#include "compare/compare.h"
#include "hearth/version.h"
#include "router/config.h"
#include "router/router.h"
#include "server/service.h"

namespace hearth::cli {
namespace {

namespace fs = std::filesystem;
using compare::ModelInfo;
using compare::ModelKind;
using compare::TargetInfo;

struct CompareArgs {
  std::vector<std::string> models;
  std::string prompts_file;
  std::string out_file;
  std::string json_file;
  std::string reference;
  std::string router_file;
  int runs = 1;
  int max_tokens = 128;
  double temperature = 0;
  int64_t seed = -1;
  bool fair = false;
  bool concurrent = false;
  int ctx_size = 0;
  int threads = 0;
  bool no_download = false;
};

std::string host_of(const std::string& url) {
  std::string rest = url.substr(url.find("://") == std::string::npos ? 0 : url.find("://") + 3);
  return rest.substr(0, rest.find('/'));
}

TargetInfo target_info(const router::TargetConfig& t) {
  TargetInfo info{t.name, t.kind == router::TargetKind::kLocal, "", t.price_input_per_mtok,
                  t.price_output_per_mtok};
  for (const auto& url : t.base_urls) info.host += (info.host.empty() ? "" : ", ") + host_of(url);
  return info;
}

// What each -m names: a route, a target (served through a route of its own, added to the
// config under the target's name), or else a model the local registry loads.
std::vector<ModelInfo> resolve_models(const std::vector<std::string>& names,
                                      router::RouterConfig* config) {
  std::vector<ModelInfo> models;
  for (const auto& name : names) {
    ModelInfo info{name, ModelKind::kLocal, {}};
    if (config) {
      if (const auto* route = config->route(name)) {
        info.kind = ModelKind::kRoute;
        std::vector<std::string> seen;
        auto add = [&](const std::string& t) {
          if (std::find(seen.begin(), seen.end(), t) != seen.end()) return;
          seen.push_back(t);
          if (const auto* target = config->target(t)) info.targets.push_back(target_info(*target));
        };
        for (const auto& t : route->targets) add(t);
        for (const auto& [task, chain] : route->tasks) {
          for (const auto& t : chain) add(t);
        }
      } else if (const auto* target = config->target(name)) {
        const bool local = target->kind == router::TargetKind::kLocal;
        info.kind = local ? ModelKind::kRoute : ModelKind::kRemote;
        info.targets.push_back(target_info(*target));
        router::RouteConfig own;
        own.name = name;
        own.policy = local ? router::Policy::kLocalOnly : router::Policy::kCloudOnly;
        own.targets = {name};
        config->routes.push_back(std::move(own));
      }
    }
    models.push_back(std::move(info));
  }
  return models;
}

std::string utc_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    std::fprintf(stderr, "hearth compare: cannot write %s\n", path.c_str());
    return false;
  }
  return true;
}

// Ctrl-C (or SIGTERM) ends the run after the requests in flight, and the report is still
// written; a second one quits at once. One thread takes the signals (sigwait), so they are
// blocked before any other thread starts (the server's threads inherit the mask).
class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&signals_);
    sigaddset(&signals_, SIGINT);
    sigaddset(&signals_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
    thread_ = std::thread([this] {
      int received = 0;
      sigwait(&signals_, &received);
      if (done_) return;
      interrupted_ = true;
      std::fprintf(stderr,
                   "hearth compare: interrupted: finishing the requests in flight, then writing "
                   "the report (again to quit now)\n");
      sigwait(&signals_, &received);
      if (!done_) std::_Exit(130);
    });
  }
  ~SignalWatcher() {
    done_ = true;
    // The thread waits in exactly one sigwait; this wakes it.
    pthread_kill(thread_.native_handle(), SIGTERM);
    thread_.join();
  }
  bool interrupted() const { return interrupted_; }

 private:
  sigset_t signals_;
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> done_{false};
  std::thread thread_;
};

int run_compare(const CompareArgs& args) {
  SignalWatcher watcher;
  std::signal(SIGPIPE, SIG_IGN);
  if (args.fair && args.concurrent) {
    std::fprintf(stderr, "hearth compare: --fair and --concurrent exclude each other\n");
    return 1;
  }
  if (args.models.size() > 8) {
    std::fprintf(stderr, "hearth compare: at most 8 models (-m) at a time\n");
    return 1;
  }
  for (size_t i = 0; i < args.models.size(); ++i) {
    if (std::find(args.models.begin(), args.models.begin() + static_cast<long>(i),
                  args.models[i]) != args.models.begin() + static_cast<long>(i)) {
      std::fprintf(stderr, "hearth compare: -m %s is given twice\n", args.models[i].c_str());
      return 1;
    }
  }
  std::ifstream in(args.prompts_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "hearth compare: cannot read %s\n", args.prompts_file.c_str());
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  auto prompts = compare::parse_prompts(text.str());
  if (!prompts) {
    std::fprintf(stderr, "hearth compare: %s: %s\n", args.prompts_file.c_str(),
                 prompts.error().message.c_str());
    return 1;
  }

  compare::CompareRun run;
  run.prompts = std::move(*prompts);
  run.mode = args.concurrent ? compare::Mode::kConcurrent : compare::Mode::kFair;
  run.runs = args.runs;
  run.max_tokens = args.max_tokens;
  run.started_utc = utc_now();
  run.hearth_version = std::string(hearth::version());

  server::ServiceOptions options;
  options.home = catalog::hearth_home();
  fs::path router_file = args.router_file;
  if (router_file.empty()) {
    std::error_code ec;
    if (fs::exists(options.home / "router.toml", ec)) router_file = options.home / "router.toml";
  }
  std::optional<router::RouterConfig> config;
  if (!router_file.empty()) {
    auto loaded = router::load_router_config(router_file);
    if (!loaded) {
      std::fprintf(stderr, "hearth compare: %s\n", loaded.error().message.c_str());
      return 1;
    }
    config = std::move(*loaded);
  }
  run.models = resolve_models(args.models, config ? &*config : nullptr);
  if (!args.reference.empty()) {
    auto it = std::find(args.models.begin(), args.models.end(), args.reference);
    if (it == args.models.end()) {
      std::fprintf(stderr, "hearth compare: --reference %s is not one of the -m models\n",
                   args.reference.c_str());
      return 1;
    }
    run.reference = static_cast<size_t>(it - args.models.begin());
  }
  if (config) {
    auto hybrid = router::HybridRouter::create(std::move(*config));
    if (!hybrid) {
      std::fprintf(stderr, "hearth compare: %s\n", hybrid.error().message.c_str());
      return 1;
    }
    options.router = std::move(*hybrid);
  }

  options.http.host = "127.0.0.1";
  options.http.port = 0;
  options.http.require_loopback_host = true;
  options.web_ui = false;
  options.allow_download = !args.no_download;
  options.scheduler.n_ctx = args.ctx_size;
  options.scheduler.n_threads = args.threads;
  // One slot per model in fair mode is all that is used; concurrent mode sends one request
  // per model at a time as well.
  options.scheduler.n_slots = 1;
  options.limits.default_ttl_seconds = 0;
  options.limits.memory_budget_bytes = catalog::Machine::detect().memory_total / 2;
  auto service = server::Service::create(std::move(options));
  if (!service) {
    std::fprintf(stderr, "hearth compare: %s\n", service.error().message.c_str());
    return 1;
  }
  server::Service& s = **service;
  Status served;
  std::atomic<bool> returned{false};
  std::thread server_thread([&] {
    served = s.run();
    returned = true;
  });
  for (int i = 0; i < 500 && s.bound_port() == 0 && !returned; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int port = s.bound_port();
  if (port == 0) {
    s.stop(false);
    server_thread.join();
    std::fprintf(stderr, "hearth compare: the comparison server did not start%s\n",
                 served ? "" : (": " + served.error().message).c_str());
    return 1;
  }

  // Local models are loaded before anything is timed, so no request pays for a load; one that
  // cannot load fails all its requests with the reason, and the others go on.
  std::vector<std::string> load_errors(run.models.size());
  for (size_t m = 0; m < run.models.size(); ++m) {
    if (run.models[m].kind != ModelKind::kLocal) continue;
    std::fprintf(stderr, "hearth compare: loading %s\n", run.models[m].name.c_str());
    auto loaded = s.registry().load(run.models[m].name, 0);
    if (!loaded) load_errors[m] = "cannot load the model: " + loaded.error().message;
  }

  auto one = [&](size_t m, size_t p, int r) {
    compare::RequestRecord record;
    record.model = m;
    record.prompt = p;
    record.run = r;
    if (!load_errors[m].empty()) {
      record.error = load_errors[m];
      return record;
    }
    CompareRequest request{
        port,     run.models[m].name, run.prompts[p].messages, args.max_tokens, args.temperature,
        args.seed};
    stream_chat(request, record);
    return record;
  };
  const size_t total = run.models.size() * run.prompts.size() * static_cast<size_t>(args.runs);
  size_t finished = 0;
  auto progress = [&](const compare::RequestRecord& r) {
    ++finished;
    std::fprintf(stderr, "hearth compare: [%zu/%zu] %s prompt %zu run %d: %s\n", finished, total,
                 run.models[r.model].name.c_str(), r.prompt + 1, r.run + 1,
                 r.ok ? (std::to_string(static_cast<long>(r.total_ms)) + " ms").c_str()
                      : ("error: " + r.error).c_str());
  };
  // Prompts in the outer loops and models in the inner one, so slow drift of the machine
  // (other load, thermal state) touches every model alike.
  for (int r = 0; r < args.runs && !watcher.interrupted(); ++r) {
    for (size_t p = 0; p < run.prompts.size() && !watcher.interrupted(); ++p) {
      if (run.mode == compare::Mode::kFair) {
        for (size_t m = 0; m < run.models.size() && !watcher.interrupted(); ++m) {
          run.records.push_back(one(m, p, r));
          progress(run.records.back());
        }
      } else {
        std::vector<compare::RequestRecord> batch(run.models.size());
        std::vector<std::thread> threads;
        for (size_t m = 0; m < run.models.size(); ++m) {
          threads.emplace_back([&, m] { batch[m] = one(m, p, r); });
        }
        for (auto& t : threads) t.join();
        for (auto& record : batch) {
          run.records.push_back(std::move(record));
          progress(run.records.back());
        }
      }
    }
  }
  run.interrupted = watcher.interrupted();
  s.stop(/*drain=*/true, std::chrono::seconds(5));
  server_thread.join();

  bool written = write_file(args.out_file, compare::render_html(run));
  if (!args.json_file.empty()) {
    written = write_file(args.json_file,
                         compare::to_json(run).dump(
                             2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) +
                             "\n") &&
              written;
  }
  if (!written) return 1;
  const auto summaries = compare::summarize(run);
  for (size_t m = 0; m < run.models.size(); ++m) {
    const auto& sm = summaries[m];
    std::printf("%-28s %zu/%zu ok  TTFT p50 %s ms  e2e p95 %s ms\n", run.models[m].name.c_str(),
                sm.requests - sm.errors, sm.requests,
                sm.ttft_p50 ? std::to_string(static_cast<long>(*sm.ttft_p50)).c_str() : "-",
                sm.e2e_p95 ? std::to_string(static_cast<long>(*sm.e2e_p95)).c_str() : "-");
  }
  std::printf("report: %s\n", args.out_file.c_str());
  return 0;
}

}  // namespace

void register_compare(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "compare", "Run the same prompts through several models and write a decision report");
  auto args = std::make_shared<CompareArgs>();
  cmd->add_option("-m,--model", args->models,
                  "A model: catalog alias, .gguf path, router route or router target "
                  "(repeatable, 1 to 8)")
      ->required();
  cmd->add_option("--prompts", args->prompts_file,
                  "JSON array of prompts, each a string or a list of {role, content} messages")
      ->required();
  cmd->add_option("--out", args->out_file, "The HTML report to write")->required();
  cmd->add_option("--json", args->json_file, "Also write the raw figures as JSON");
  cmd->add_option("--runs", args->runs, "Times each prompt is sent to each model")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--max-tokens", args->max_tokens, "max_tokens of every request (default 128)")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--temperature", args->temperature, "Sampling temperature (default 0: greedy)")
      ->check(CLI::Range(0.0, 2.0));
  cmd->add_option("--seed", args->seed, "Seed sent with every request")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 62));
  cmd->add_option("--reference", args->reference,
                  "Score answers against this -m model's (default: against each other)");
  cmd->add_flag("--fair", args->fair, "One request at a time (the default)");
  cmd->add_flag("--concurrent", args->concurrent, "Each prompt to every model at once");
  cmd->add_option("--router", args->router_file,
                  "Router config (docs/router.md; default: $HEARTH_HOME/router.toml if present)");
  cmd->add_option("--ctx-size,-c", args->ctx_size, "Context size of local models (0: default)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", args->threads, "Threads of local models (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_flag("--no-download", args->no_download, "Load only models already in the cache");
  cmd->callback([args, &exit_code] { exit_code = run_compare(*args); });
}

}  // namespace hearth::cli
