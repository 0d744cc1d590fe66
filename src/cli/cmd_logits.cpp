// `hearth logits -m MODEL [--top K] [-t THREADS] (TEXT | --file PATH)`: tokenizes the text as
// `tokenize` does without --raw (the model's BOS rule, special tokens parsed), evaluates every
// token in one pass and prints, for each position i, the top-K logits after token i plus the
// mean and standard deviation of all logits there, as one JSON object:
//   {"ids":[...],"positions":[{"top":[[id,logit],...],"mean":m,"std":s},...]}
// This is the shape of the reference files in shared/fixtures, so outputs can be compared.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/tokenizer/tokenizer.h"
#include "hearth/engine.h"

namespace hearth::cli {
namespace {

struct LogitsArgs {
  std::string model;
  std::string text;
  std::string file;
  int top = 10;
  int threads = 0;
};

std::optional<std::string> read_text(const LogitsArgs& args, const char* command) {
  if (args.file.empty()) return args.text;
  std::ifstream in(args.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "hearth %s: cannot read %s\n", command, args.file.c_str());
    return std::nullopt;
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

nlohmann::ordered_json position_json(std::span<const float> logits, int top) {
  std::vector<int32_t> ids(logits.size());
  std::iota(ids.begin(), ids.end(), 0);
  const auto k = static_cast<ptrdiff_t>(std::min<size_t>(static_cast<size_t>(top), ids.size()));
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] > logits[b] || (logits[a] == logits[b] && a < b);
  });
  nlohmann::ordered_json top_json = nlohmann::ordered_json::array();
  for (ptrdiff_t i = 0; i < k; ++i) top_json.push_back({ids[i], logits[ids[i]]});
  double sum = 0;
  for (float v : logits) sum += v;
  const double mean = sum / static_cast<double>(logits.size());
  double sum_sq = 0;
  for (float v : logits) sum_sq += (v - mean) * (v - mean);
  const double std_dev = std::sqrt(sum_sq / static_cast<double>(logits.size()));
  return {{"top", std::move(top_json)}, {"mean", mean}, {"std", std_dev}};
}

int run_logits(const LogitsArgs& args) {
  if (args.top < 1) {
    std::fprintf(stderr, "hearth logits: --top must be at least 1\n");
    return 1;
  }
  const auto text = read_text(args, "logits");
  if (!text) return 1;
  auto model = Model::load(args.model, ModelOptions{.n_threads = args.threads});
  if (!model) {
    std::fprintf(stderr, "hearth logits: %s\n", model.error().message.c_str());
    return 1;
  }
  const std::vector<int32_t> ids = (*model)->tokenizer().encode(*text, true, true);
  nlohmann::ordered_json out = {{"ids", ids}, {"positions", nlohmann::ordered_json::array()}};
  if (!ids.empty()) {
    // The context only needs to hold this text.
    Session session(*model, SessionOptions{.n_ctx = static_cast<int>(ids.size())});
    if (auto s = session.decode(ids, /*all_logits=*/true); !s) {
      std::fprintf(stderr, "hearth logits: %s\n", s.error().message.c_str());
      return 1;
    }
    for (int i = 0; i < static_cast<int>(ids.size()); ++i) {
      out["positions"].push_back(position_json(session.logits(i), args.top));
    }
  }
  std::puts(out.dump().c_str());
  return 0;
}

}  // namespace

void register_logits(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("logits", "Print the top logits after every token of a text");
  auto args = std::make_shared<LogitsArgs>();
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("--top", args->top, "Logits to print per position")->capture_default_str();
  cmd->add_option("-t,--threads", args->threads, "Threads (0 = all hardware threads)");
  auto* text = cmd->add_option("text", args->text, "Text to evaluate");
  auto* file = cmd->add_option("--file", args->file, "Read the text from a file");
  text->excludes(file);
  file->excludes(text);
  cmd->callback([args, text, file, &exit_code] {
    if (text->count() == 0 && file->count() == 0) {
      std::fprintf(stderr, "hearth logits: give a TEXT or --file PATH\n");
      exit_code = 1;
      return;
    }
    exit_code = run_logits(*args);
  });
}

}  // namespace hearth::cli
