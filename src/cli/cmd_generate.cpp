// `hearth generate -m MODEL [-n N] [--temp T] [--seed S] [--json] (PROMPT | --file PATH)`:
// continues a raw prompt (no chat template; the model's BOS rule applied, special tokens
// parsed). Stops after N tokens, at an end-of-generation token (not emitted), or when the
// context is full. Without --json the continuation streams to stdout as it is generated;
// with --json one object is printed at the end:
//   {"prompt_ids":[...],"generated_ids":[...],"text":"...","stop":"eog|length|context"}
// --temp 0 is greedy (argmax); above 0 the sampler chain draws with the given seed.
//
// --speculate lookup|draft drafts tokens and verifies them in one pass (docs/performance.md,
// "Speculative decoding"): prompt lookup, or --draft MODEL (same vocabulary) drafting up to
// --draft-max tokens. The output is the same as without it. The JSON object then carries
// "timings" with draft_n / draft_n_accepted; without --json they go to stderr at the end.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "engine/platform/thread_pool.h"
#include "engine/runtime/generator.h"
#include "engine/runtime/speculative.h"
#include "engine/sampler/sampler.h"
#include "engine/tokenizer/tokenizer.h"
#include "hearth/engine.h"

namespace hearth::cli {
namespace {

struct GenerateArgs {
  std::string model;
  std::string prompt;
  std::string file;
  int n_predict = 128;
  float temperature = 0.8f;
  uint64_t seed = 0xC0FFEE;
  int threads = 0;
  bool json = false;
  std::string speculate = "off";
  std::string draft;
  int draft_max = 8;
};

int run_generate(const GenerateArgs& args, const std::string& prompt) {
  if (args.n_predict < 0) {
    std::fprintf(stderr, "hearth generate: -n must not be negative\n");
    return 1;
  }
  SamplerParams sampling;
  sampling.temperature = args.temperature;
  sampling.seed = args.seed;
  if (auto s = sampling.validate(); !s) {
    std::fprintf(stderr, "hearth generate: %s\n", s.error().message.c_str());
    return 1;
  }
  auto mode = parse_speculate_mode(args.speculate);
  if (!mode) {
    std::fprintf(stderr, "hearth generate: %s\n", mode.error().message.c_str());
    return 1;
  }
  if (!args.draft.empty() && *mode == SpeculateMode::kOff) *mode = SpeculateMode::kDraft;
  if (*mode == SpeculateMode::kDraft && args.draft.empty()) {
    std::fprintf(stderr, "hearth generate: --speculate draft needs --draft MODEL\n");
    return 1;
  }
  SpeculativeParams speculative{.mode = *mode, .draft_max = args.draft_max};
  if (auto s = speculative.validate(); !s) {
    std::fprintf(stderr, "hearth generate: %s\n", s.error().message.c_str());
    return 1;
  }
  auto model = Model::load(args.model, ModelOptions{.n_threads = args.threads});
  if (!model) {
    std::fprintf(stderr, "hearth generate: %s\n", model.error().message.c_str());
    return 1;
  }
  const Tokenizer& tokenizer = (*model)->tokenizer();
  const std::vector<int32_t> prompt_ids = tokenizer.encode(prompt, true, true);
  if (prompt_ids.empty()) {
    std::fprintf(stderr, "hearth generate: the prompt has no tokens\n");
    return 1;
  }
  const int max_ctx = (*model)->options().n_ctx;
  if (static_cast<int>(prompt_ids.size()) >= max_ctx) {
    std::fprintf(stderr, "hearth generate: the prompt's %zu tokens fill the context of %d\n",
                 prompt_ids.size(), max_ctx);
    return 1;
  }
  const int n_ctx = static_cast<int>(
      std::min<int64_t>(max_ctx, static_cast<int64_t>(prompt_ids.size()) + args.n_predict));
  // One pool for the model and the draft model: they take turns, and two pools would put
  // twice the threads on the cores.
  ThreadPool pool((*model)->options().n_threads);
  Session session(*model, SessionOptions{.n_ctx = n_ctx, .pool = &pool});
  Generation generation(session);
  std::unique_ptr<ModelDrafter> drafter;
  if (speculative.mode == SpeculateMode::kDraft) {
    auto draft_file = local_model_file(args.draft, "draft model");
    if (!draft_file) {
      std::fprintf(stderr, "hearth generate: --draft: %s\n", draft_file.error().message.c_str());
      return 1;
    }
    auto draft_model = Model::load(*draft_file, ModelOptions{.n_threads = args.threads});
    if (!draft_model) {
      std::fprintf(stderr, "hearth generate: --draft: %s\n", draft_model.error().message.c_str());
      return 1;
    }
    auto created =
        ModelDrafter::create(*draft_model, **model, SessionOptions{.n_ctx = n_ctx, .pool = &pool});
    if (!created) {
      std::fprintf(stderr, "hearth generate: %s\n", created.error().message.c_str());
      return 1;
    }
    drafter = std::move(*created);
    generation.set_draft_model(drafter.get());
  }
  GenerateOptions options;
  options.max_tokens = args.n_predict;
  options.sampling = sampling;
  options.speculative = speculative;
  // The prompt first, timed on its own, so that the generation's rate is its own (run() then
  // evaluates only the prompt's last token again, for its logits).
  using Clock = std::chrono::steady_clock;
  const auto prompt_started = Clock::now();
  if (auto prefilled = generation.prefill(prompt_ids); !prefilled) {
    std::fprintf(stderr, "hearth generate: %s\n", prefilled.error().message.c_str());
    return 1;
  }
  const auto started = Clock::now();
  auto result = generation.run(prompt_ids, options, [&](std::string_view piece) {
    if (!args.json) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return true;
  });
  if (!result) {
    std::fprintf(stderr, "\nhearth generate: %s\n", result.error().message.c_str());
    return 1;
  }
  const double elapsed_ms =
      std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  const double prompt_ms =
      std::chrono::duration<double, std::milli>(started - prompt_started).count();
  const auto n_generated = static_cast<double>(result->tokens.size());
  const SpeculativeStats& spec = result->speculative;
  const nlohmann::ordered_json timings = {
      {"prompt_n", prompt_ids.size()},
      {"prompt_ms", prompt_ms},
      {"predicted_n", result->tokens.size()},
      {"predicted_ms", elapsed_ms},
      {"predicted_per_second", elapsed_ms > 0 ? n_generated * 1000.0 / elapsed_ms : 0.0},
      {"speculate", speculate_mode_name(speculative.mode)},
      {"draft_n", spec.drafted},
      {"draft_n_accepted", spec.accepted},
      {"draft_acceptance_rate", spec.acceptance_rate()}};
  std::string stop = result->finish == FinishReason::kStop ? "eog" : "length";
  if (result->finish == FinishReason::kLength &&
      static_cast<int>(result->tokens.size()) < args.n_predict) {
    stop = "context";
  }
  if (args.json) {
    const nlohmann::ordered_json out = {{"prompt_ids", prompt_ids},
                                        {"generated_ids", result->tokens},
                                        {"text", result->text},
                                        {"stop", stop},
                                        {"timings", timings}};
    std::puts(out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  } else {
    std::fputc('\n', stdout);
    if (speculative.mode != SpeculateMode::kOff) {
      std::fprintf(stderr,
                   "[%zu tokens in %.1f ms, %.1f tokens/s; speculate %s: %d drafted, %d accepted "
                   "(%.1f%%)]\n",
                   result->tokens.size(), elapsed_ms, timings["predicted_per_second"].get<double>(),
                   std::string(speculate_mode_name(speculative.mode)).c_str(), spec.drafted,
                   spec.accepted, 100.0 * spec.acceptance_rate());
    }
  }
  return 0;
}

}  // namespace

void register_generate(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("generate", "Continue a raw prompt");
  auto args = std::make_shared<GenerateArgs>();
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("-n,--n-predict", args->n_predict, "Tokens to generate")->capture_default_str();
  cmd->add_option("--temp", args->temperature, "Temperature; 0 = greedy")->capture_default_str();
  cmd->add_option("--seed", args->seed, "Random seed for sampling");
  cmd->add_option("-t,--threads", args->threads, "Threads (0 = all hardware threads)");
  cmd->add_flag("--json", args->json, "Print one JSON object at the end");
  cmd->add_option("--speculate", args->speculate,
                  "Speculative decoding: off, lookup (n-grams of the context) or draft")
      ->capture_default_str();
  cmd->add_option(
      "--draft", args->draft,
      "Draft model (path or downloaded alias, same vocabulary); implies --speculate draft");
  cmd->add_option("--draft-max", args->draft_max, "Tokens drafted per verification at most")
      ->capture_default_str();
  auto* prompt = cmd->add_option("prompt", args->prompt, "Prompt text");
  auto* file = cmd->add_option("--file", args->file, "Read the prompt from a file");
  prompt->excludes(file);
  file->excludes(prompt);
  cmd->callback([args, prompt, file, &exit_code] {
    if (prompt->count() == 0 && file->count() == 0) {
      std::fprintf(stderr, "hearth generate: give a PROMPT or --file PATH\n");
      exit_code = 1;
      return;
    }
    std::string text = args->prompt;
    if (!args->file.empty()) {
      std::ifstream in(args->file, std::ios::binary);
      if (!in) {
        std::fprintf(stderr, "hearth generate: cannot read %s\n", args->file.c_str());
        exit_code = 1;
        return;
      }
      std::ostringstream out;
      out << in.rdbuf();
      text = out.str();
    }
    exit_code = run_generate(*args, text);
  });
}

}  // namespace hearth::cli
