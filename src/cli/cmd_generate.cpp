// `hearth generate -m MODEL [-n N] [--temp T] [--seed S] [--json] (PROMPT | --file PATH)`:
// continues a raw prompt (no chat template; the model's BOS rule applied, special tokens
// parsed). Stops after N tokens, at an end-of-generation token (not emitted), or when the
// context is full. Without --json the continuation streams to stdout as it is generated;
// with --json one object is printed at the end:
//   {"prompt_ids":[...],"generated_ids":[...],"text":"...","stop":"eog|length|context"}
// --temp 0 is greedy (argmax); above 0 the sampler chain draws with the given seed.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/runtime/generator.h"
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
  Session session(*model, SessionOptions{.n_ctx = n_ctx});
  Generation generation(session);
  GenerateOptions options;
  options.max_tokens = args.n_predict;
  options.sampling = sampling;
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
  std::string stop = result->finish == FinishReason::kStop ? "eog" : "length";
  if (result->finish == FinishReason::kLength &&
      static_cast<int>(result->tokens.size()) < args.n_predict) {
    stop = "context";
  }
  if (args.json) {
    const nlohmann::ordered_json out = {{"prompt_ids", prompt_ids},
                                        {"generated_ids", result->tokens},
                                        {"text", result->text},
                                        {"stop", stop}};
    std::puts(out.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  } else {
    std::fputc('\n', stdout);
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
