// `hearth bench`: prompt-processing and generation speed, like llama-bench.
//
//   hearth bench -m MODEL [-p 128,512] [-n 64] [-d DEPTH] [-t THREADS] [-r REPS]
//                [--kv-type f16|q8_0|f32] [--json]
//   hearth bench --synthetic qwen2.5-0.5b --type q8_0 [...]   (writes the model once, cached)
//   hearth bench --synthetic bge-small-en-v1.5 --type f16 --write-only   (prints the path)
//   hearth bench --membw [-t THREADS]
//   hearth bench -m MODEL --bound ...   (generation as a fraction of the bandwidth probed
//                                        right before and after each repetition)
//
// ppN evaluates N prompt tokens in one batch from an empty cache; tgN generates N tokens one
// at a time (after DEPTH tokens of context when -d is given). An embedding model (BERT) has
// embN instead: one embedding of N tokens, and no generation test. Each test runs once untimed,
// then REPS times; the figure is the mean tokens/s with its standard deviation. Every run also
// reports how long loading took until the first token's logits (or first embedding) were
// ready (model load, session allocation and an 8-token input; warm page cache after the first
// run) and the process's resident memory next to what it must hold: the file plus the KV cache.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include "catalog/cache.h"
#include "cli/commands.h"
#include "engine/gguf/gguf.h"
#include "engine/kernels/kernel_table.h"
#include "engine/kernels/membw.h"
#include "engine/models/model_weights.h"
#include "engine/models/synthetic.h"
#include "engine/models/token_reads.h"
#include "hearth/engine.h"
#include "hearth/memory_estimate.h"

namespace hearth::cli {
namespace {

struct BenchArgs {
  std::string model;
  std::string synthetic;
  std::string type = "q8_0";
  std::string prompt_sizes = "128,512";
  int n_gen = 64;
  int depth = 0;
  int threads = 0;
  int reps = 3;
  bool json = false;
  bool membw = false;
  bool bound = false;
  bool write_only = false;
  std::string cache_dir;
  std::string kv_type = "f16";
};

// Resident and peak resident set size of this process, from /proc (0 where unavailable).
struct Residency {
  uint64_t current = 0;
  uint64_t peak = 0;
};
Residency read_residency() {
  Residency r;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    auto kib = [&] { return std::strtoull(line.c_str() + line.find(':') + 1, nullptr, 10) << 10; };
    if (line.rfind("VmRSS:", 0) == 0) r.current = kib();
    if (line.rfind("VmHWM:", 0) == 0) r.peak = kib();
  }
  return r;
}

// --bound: generation's weight reads per second (models::weight_bytes_per_token: every tensor,
// of a mixture of experts only the n_expert_used experts a token runs) as a fraction of the
// probe's reading right before or after each repetition, whichever is higher. A repetition
// is steady when the two readings agree within kSteadyProbeSpread: where the machine changed
// state during it (this one switches between ~35 and ~60 GB/s within seconds), its limit is
// not known, so the steady repetitions get their own mean.
constexpr size_t kBoundProbeBytes = size_t{512} << 20;
constexpr double kSteadyProbeSpread = 0.1;
struct BoundRepetition {
  double probe_before = 0, probe_after = 0;  // GB/s
  double fraction = 0;
  bool steady() const {
    return std::abs(probe_before - probe_after) <=
           kSteadyProbeSpread * std::max(probe_before, probe_after);
  }
};
struct BoundFigure {
  double mean = 0, min = 0, max = 0;    // fractions
  double probe_min = 0, probe_max = 0;  // GB/s
  int n_steady = 0;
  double steady_mean = 0;
  std::vector<BoundRepetition> repetitions;
};

BoundFigure summarize_bound(std::vector<BoundRepetition> reps) {
  BoundFigure b;
  b.min = b.probe_min = std::numeric_limits<double>::infinity();
  for (const BoundRepetition& r : reps) {
    b.mean += r.fraction;
    b.min = std::min(b.min, r.fraction);
    b.max = std::max(b.max, r.fraction);
    b.probe_min = std::min({b.probe_min, r.probe_before, r.probe_after});
    b.probe_max = std::max({b.probe_max, r.probe_before, r.probe_after});
    if (r.steady()) {
      b.steady_mean += r.fraction;
      ++b.n_steady;
    }
  }
  b.mean /= static_cast<double>(reps.size());
  if (b.n_steady > 0) b.steady_mean /= b.n_steady;
  b.repetitions = std::move(reps);
  return b;
}

struct Figure {
  std::string test;
  double mean = 0;
  double stddev = 0;
};

Figure summarize(std::string test, const std::vector<double>& rates) {
  Figure f{std::move(test)};
  for (double r : rates) f.mean += r;
  f.mean /= static_cast<double>(rates.size());
  for (double r : rates) f.stddev += (r - f.mean) * (r - f.mean);
  f.stddev = rates.size() > 1 ? std::sqrt(f.stddev / static_cast<double>(rates.size() - 1)) : 0;
  return f;
}

std::vector<int32_t> random_tokens(int n, int32_t n_vocab, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int32_t> ids(static_cast<size_t>(n));
  for (auto& id : ids) id = static_cast<int32_t>(rng() % static_cast<uint64_t>(n_vocab));
  return ids;
}

using Clock = std::chrono::steady_clock;

Result<double> time_prompt(Session& session, const std::vector<int32_t>& tokens) {
  session.rewind(0);
  const auto start = Clock::now();
  if (session.model().info().embedding_only) {
    if (auto v = session.embed(tokens); !v) return std::unexpected(v.error());
  } else if (auto st = session.decode(tokens); !st) {
    return std::unexpected(st.error());
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Result<double> time_generation(Session& session, const std::vector<int32_t>& context, int n,
                               int32_t n_vocab) {
  session.rewind(0);
  if (!context.empty()) {
    if (auto st = session.decode(context); !st) return std::unexpected(st.error());
  }
  int32_t token = 1;
  const auto start = Clock::now();
  for (int i = 0; i < n; ++i) {
    if (auto st = session.decode(std::span<const int32_t>(&token, 1)); !st) {
      return std::unexpected(st.error());
    }
    // Vary the input (the output is not used), within the smallest vocabularies too.
    token = static_cast<int32_t>((int64_t{token} * 7919 + 13) % std::max(2, n_vocab));
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Result<std::filesystem::path> synthetic_model(const BenchArgs& args) {
  const models::SyntheticShape* shape = models::find_synthetic_shape(args.synthetic);
  if (!shape) {
    std::string known;
    for (const auto& s : models::synthetic_shapes()) known += " " + std::string(s.name);
    return fail("unknown shape '" + args.synthetic + "'; known:" + known);
  }
  if (!models::is_synthetic_mix(args.type)) {
    return fail("unknown --type '" + args.type + "' (f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k)");
  }
  std::filesystem::path dir = args.cache_dir;
  if (dir.empty()) dir = catalog::hearth_home() / "bench";
  const auto path = dir / (args.synthetic + "-" + args.type + ".gguf");
  if (std::filesystem::exists(path)) return path;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());
  const char* fixtures_env = std::getenv("HEARTH_FIXTURES");
  const std::filesystem::path fixtures =
      fixtures_env && *fixtures_env ? fixtures_env : "../shared/fixtures";
  auto vocab = gguf::File::open(fixtures / shape->vocab_fixture);
  if (!vocab) {
    return fail(
        "the synthetic model borrows a real vocabulary from the fixtures (set "
        "HEARTH_FIXTURES): " +
        vocab.error().message);
  }
  std::fprintf(stderr, "hearth bench: writing %s (once)...\n", path.c_str());
  if (auto st = models::write_synthetic_model(*shape, args.type, *vocab, path); !st) {
    return std::unexpected(st.error());
  }
  return path;
}

int run_membw(const BenchArgs& args) {
  const int threads =
      args.threads > 0 ? args.threads : static_cast<int>(std::thread::hardware_concurrency());
  const BandwidthResult r = measure_read_bandwidth(threads);
  if (args.json) {
    std::puts(nlohmann::ordered_json{
        {"test", "membw"}, {"threads", threads}, {"read_gb_per_second", r.gigabytes_per_second}}
                  .dump()
                  .c_str());
  } else {
    std::printf("memory read bandwidth: %.1f GB/s (%d threads, best of %d passes over %zu MiB)\n",
                r.gigabytes_per_second, threads, r.passes, r.bytes_per_pass >> 20);
  }
  return 0;
}

int run_bench(const BenchArgs& args) {
  if (args.membw) return run_membw(args);
  std::filesystem::path path = args.model;
  if (!args.synthetic.empty()) {
    auto p = synthetic_model(args);
    if (!p) {
      std::fprintf(stderr, "hearth bench: %s\n", p.error().message.c_str());
      return 1;
    }
    path = *p;
    if (args.write_only) {
      std::puts(path.c_str());
      return 0;
    }
  } else if (path.empty()) {
    std::fprintf(stderr, "hearth bench: give -m MODEL, --synthetic SHAPE or --membw\n");
    return 1;
  }
  std::vector<int> prompt_sizes;
  std::stringstream list(args.prompt_sizes);
  for (std::string item; std::getline(list, item, ',');) {
    if (item.empty()) continue;
    try {
      const int n = std::stoi(item);
      if (n > 0) prompt_sizes.push_back(n);
    } catch (...) {
      std::fprintf(stderr, "hearth bench: bad -p value '%s'\n", item.c_str());
      return 1;
    }
  }
  KvCacheType kv_type = KvCacheType::kF16;
  if (args.kv_type == "q8_0") {
    kv_type = KvCacheType::kQ8_0;
  } else if (args.kv_type == "f32") {
    kv_type = KvCacheType::kF32;
  } else if (args.kv_type != "f16") {
    std::fprintf(stderr, "hearth bench: unknown --kv-type '%s' (f16, q8_0, f32)\n",
                 args.kv_type.c_str());
    return 1;
  }
  int max_tokens = args.depth + args.n_gen + 1;
  for (int p : prompt_sizes) max_tokens = std::max(max_tokens, p);

  const auto load_start = Clock::now();
  auto model = Model::load(path, ModelOptions{.n_threads = args.threads, .n_ctx = max_tokens + 8});
  if (!model) {
    std::fprintf(stderr, "hearth bench: %s\n", model.error().message.c_str());
    return 1;
  }
  const ModelInfo& info = (*model)->info();
  const bool embedding = info.embedding_only;
  constexpr int session_batch = 512;
  auto created = Session::create(
      *model,
      SessionOptions{.n_ctx = max_tokens + 8, .n_batch = session_batch, .kv_type = kv_type});
  if (!created) {
    std::fprintf(stderr, "hearth bench: %s\n", created.error().message.c_str());
    return 1;
  }
  Session& session = *created;
  const auto first_input = random_tokens(8, info.n_vocab, 1);
  Status first = ok();
  if (embedding) {
    if (auto e = session.embed(first_input); !e) first = std::unexpected(e.error());
  } else {
    first = session.decode(first_input);
  }
  if (!first) {
    std::fprintf(stderr, "hearth bench: %s\n", first.error().message.c_str());
    return 1;
  }
  const double first_token_seconds =
      std::chrono::duration<double>(Clock::now() - load_start).count();
  // The first token above did not wait for the weights to move into huge pages; the speed
  // figures are those of the state a server reaches within a second of loading.
  (*model)->finish_background_work();
  const int threads = (*model)->options().n_threads;
  std::vector<Figure> figures;
  for (int n : prompt_sizes) {
    const auto tokens = random_tokens(n, info.n_vocab, static_cast<uint64_t>(n));
    std::vector<double> rates;
    for (int rep = -1; rep < args.reps; ++rep) {
      auto seconds = time_prompt(session, tokens);
      if (!seconds) {
        std::fprintf(stderr, "hearth bench: %s\n", seconds.error().message.c_str());
        return 1;
      }
      if (rep >= 0) rates.push_back(n / *seconds);
    }
    figures.push_back(summarize((embedding ? "emb" : "pp") + std::to_string(n), rates));
  }
  const auto file_bytes = std::filesystem::file_size(path);
  // What a generated token reads: the tensors, of a mixture of experts only the experts run.
  const models::HyperParams& hp = (*model)->weights().hp;
  const uint64_t token_bytes =
      models::weight_bytes_per_token((*model)->file().tensors(), hp.n_expert, hp.n_expert_used);
  std::optional<BoundFigure> bound;
  uint64_t peak_before_probe = 0;
  if (args.n_gen > 0 && !embedding) {
    const auto context = random_tokens(args.depth, info.n_vocab, 7);
    std::vector<double> rates;
    // --bound: the probe runs right before and after every repetition, since on a shared
    // machine the bandwidth can change within seconds; freed before residency is read.
    std::unique_ptr<BandwidthProbe> probe;
    if (args.bound) {
      peak_before_probe = read_residency().peak;  // the probe's buffer is not the model's
      probe = std::make_unique<BandwidthProbe>(threads, kBoundProbeBytes);
    }
    std::vector<BoundRepetition> bound_reps;
    for (int rep = -1; rep < args.reps; ++rep) {
      const double before = probe ? probe->measure(2).gigabytes_per_second : 0;
      auto seconds = time_generation(session, context, args.n_gen, info.n_vocab);
      if (!seconds) {
        std::fprintf(stderr, "hearth bench: %s\n", seconds.error().message.c_str());
        return 1;
      }
      const double after = probe ? probe->measure(2).gigabytes_per_second : 0;
      if (rep < 0) continue;
      rates.push_back(args.n_gen / *seconds);
      if (probe && std::max(before, after) > 0) {
        const double read = rates.back() * static_cast<double>(token_bytes) / 1e9;
        bound_reps.push_back({before, after, read / std::max(before, after)});
      }
    }
    if (!bound_reps.empty()) bound = summarize_bound(std::move(bound_reps));
    std::string name = "tg" + std::to_string(args.n_gen);
    if (args.depth > 0) name += "@d" + std::to_string(args.depth);
    figures.push_back(summarize(name, rates));
  }

  Residency residency = read_residency();
  if (peak_before_probe > 0) residency.peak = peak_before_probe;
  const size_t kv_bytes = session.kv_cache_bytes();
  // What the server's budget and the catalog count for this model, beside what was measured.
  const KvShape kv_shape = embedding ? KvShape{} : kv_shape_of(info, session_batch);
  const uint64_t estimated_bytes =
      model_memory_bytes(file_bytes, kv_shape, session.n_ctx(), 1, kv_type);
  if (args.json) {
    nlohmann::ordered_json out = {{"model", path.filename().string()},
                                  {"arch", info.arch},
                                  {"file_bytes", file_bytes},
                                  {"threads", threads},
                                  {"kernels", std::string(active_kernels().name)},
                                  {"kv_type", args.kv_type},
                                  {"first_token_seconds", first_token_seconds},
                                  {"resident_bytes", residency.current},
                                  {"peak_resident_bytes", residency.peak},
                                  {"kv_cache_bytes", kv_bytes},
                                  {"estimated_bytes", estimated_bytes},
                                  {"results", nlohmann::ordered_json::array()}};
    for (const auto& f : figures) {
      out["results"].push_back(
          {{"test", f.test}, {"tokens_per_second", f.mean}, {"stddev", f.stddev}});
    }
    if (bound) {
      nlohmann::ordered_json reps = nlohmann::ordered_json::array();
      for (const BoundRepetition& r : bound->repetitions) {
        reps.push_back({{"probe_before_gb_per_second", r.probe_before},
                        {"probe_after_gb_per_second", r.probe_after},
                        {"fraction", r.fraction},
                        {"steady", r.steady()}});
      }
      out["bandwidth_bound"] = {{"weight_bytes_per_token", token_bytes},
                                {"fraction_mean", bound->mean},
                                {"fraction_min", bound->min},
                                {"fraction_max", bound->max},
                                {"probe_min_gb_per_second", bound->probe_min},
                                {"probe_max_gb_per_second", bound->probe_max},
                                {"steady_repetitions", bound->n_steady},
                                {"fraction_mean_steady", bound->steady_mean},
                                {"repetitions", reps}};
    }
    std::puts(out.dump().c_str());
  } else {
    std::printf("model %s (%s, %.0f MiB), %d threads, kernels %s\n", path.filename().c_str(),
                info.arch.c_str(), static_cast<double>(file_bytes) / (1 << 20), threads,
                std::string(active_kernels().name).c_str());
    std::printf("%-12s %14s\n", "test", "tokens/s");
    for (const auto& f : figures)
      std::printf("%-12s %8.1f ± %-6.1f\n", f.test.c_str(), f.mean, f.stddev);
    if (bound) {
      std::printf(
          "generation read %.0f%% of the bandwidth measured around each repetition (%.0f-%.0f%%; "
          "probe %.1f-%.1f GB/s, %.1f MB per token)\n",
          100 * bound->mean, 100 * bound->min, 100 * bound->max, bound->probe_min, bound->probe_max,
          static_cast<double>(token_bytes) / 1e6);
      for (const BoundRepetition& r : bound->repetitions) {
        std::printf("  repetition: probe %.1f / %.1f GB/s, %.0f%%%s\n", r.probe_before,
                    r.probe_after, 100 * r.fraction, r.steady() ? "" : " (probe changed)");
      }
      if (bound->n_steady > 0) {
        std::printf("steady repetitions (probes within %.0f%%): %d of %zu, mean %.0f%%\n",
                    100 * kSteadyProbeSpread, bound->n_steady, bound->repetitions.size(),
                    100 * bound->steady_mean);
      }
    }
    const auto mib = [](uint64_t b) { return static_cast<double>(b) / (1 << 20); };
    std::printf(
        "load to first token %.3f s; resident %.0f MiB (peak %.0f) = file %.0f + KV cache (%s) "
        "%.0f %+.0f MiB (estimated %.0f MiB)\n",
        first_token_seconds, mib(residency.current), mib(residency.peak), mib(file_bytes),
        args.kv_type.c_str(), mib(kv_bytes),
        mib(residency.current) - mib(file_bytes) - mib(kv_bytes), mib(estimated_bytes));
  }
  return 0;
}

}  // namespace

void register_bench(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("bench", "Measure prompt and generation speed");
  auto args = std::make_shared<BenchArgs>();
  cmd->add_option("-m,--model", args->model, "GGUF model file");
  cmd->add_option("--synthetic", args->synthetic, "Benchmark a random-weight model of this shape");
  cmd->add_option("--type", args->type, "Quantization of the synthetic model")
      ->capture_default_str();
  cmd->add_option("--cache-dir", args->cache_dir, "Where synthetic models are kept");
  cmd->add_option("-p,--prompt", args->prompt_sizes, "Prompt sizes, comma-separated")
      ->capture_default_str();
  cmd->add_option("-n,--gen", args->n_gen, "Tokens to generate (0: skip)")
      ->check(CLI::Range(0, 1 << 16))
      ->capture_default_str();
  cmd->add_option("-d,--depth", args->depth, "Context tokens before the generation test")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", args->threads, "Threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->add_option("-r,--reps", args->reps, "Timed repetitions")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->add_flag("--membw", args->membw, "Measure memory read bandwidth instead");
  cmd->add_flag("--bound", args->bound,
                "Measure the read bandwidth around every generation repetition and report the "
                "fraction of it that generation used");
  cmd->add_option("--kv-type", args->kv_type, "KV cache type: f16, q8_0 or f32")
      ->capture_default_str();
  cmd->add_flag("--write-only", args->write_only,
                "With --synthetic: write the model (if not cached), print its path and exit");
  cmd->callback([args, &exit_code] { exit_code = run_bench(*args); });
}

}  // namespace hearth::cli
