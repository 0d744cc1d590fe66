// `hearth chat -m MODEL`: a terminal chat with the model's chat template, streaming tokens.
// Each turn re-renders the whole conversation; the session's cache keeps the common prefix,
// so only the new turn is evaluated. Commands: /reset, /system TEXT, /exit (or end of input).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "engine/chat/model_template.h"
#include "engine/gguf/gguf.h"
#include "engine/runtime/generator.h"
#include "engine/tokenizer/tokenizer.h"
#include "hearth/engine.h"

namespace hearth::cli {
namespace {

struct ChatArgs {
  std::string model;
  std::string system;
  float temperature = 0.7f;
  uint64_t seed = 0xC0FFEE;
  int max_tokens = 512;
  int ctx_size = 0;
  int threads = 0;
};

int run_chat(const ChatArgs& args) {
  auto model =
      Model::load(args.model, ModelOptions{.n_threads = args.threads, .n_ctx = args.ctx_size});
  if (!model) {
    std::fprintf(stderr, "hearth chat: %s\n", model.error().message.c_str());
    return 1;
  }
  const Tokenizer& tokenizer = (*model)->tokenizer();
  auto chat_template = chat::model_chat_template((*model)->file(), tokenizer);
  if (!chat_template) {
    std::fprintf(stderr, "hearth chat: %s\n", chat_template.error().message.c_str());
    return 1;
  }
  const bool fallback = chat_template->is_fallback;
  const bool interactive = isatty(STDIN_FILENO) != 0;
  if (interactive) {
    std::fprintf(stderr, "hearth chat: %s%s. /reset, /system TEXT, /exit\n",
                 (*model)->info().name.empty() ? args.model.c_str() : (*model)->info().name.c_str(),
                 fallback ? " (no chat template: ChatML fallback)" : "");
  }

  Session session(*model);
  Generation generation(session);
  GenerateOptions options;
  options.max_tokens = args.max_tokens;
  options.sampling.temperature = args.temperature;
  options.sampling.seed = args.seed;

  chat::ChatRequest request;
  auto reset = [&] {
    request.messages = nlohmann::ordered_json::array();
    if (!args.system.empty())
      request.messages.push_back({{"role", "system"}, {"content", args.system}});
  };
  reset();

  std::string line;
  for (;;) {
    if (interactive) std::fputs("\n> ", stdout), std::fflush(stdout);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/exit" || line == "/quit") break;
    if (line == "/reset") {
      reset();
      continue;
    }
    if (line.rfind("/system ", 0) == 0) {
      request.messages = nlohmann::ordered_json::array();
      request.messages.push_back({{"role", "system"}, {"content", line.substr(8)}});
      continue;
    }
    request.messages.push_back({{"role", "user"}, {"content", line}});
    auto prompt = chat::chat_prompt_tokens(*chat_template, tokenizer, request);
    if (!prompt) {
      std::fprintf(stderr, "hearth chat: %s\n", prompt.error().message.c_str());
      request.messages.erase(request.messages.end() - 1);
      continue;
    }
    auto result = generation.run(*prompt, options, [](std::string_view piece) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    });
    std::fputc('\n', stdout);
    if (!result) {
      std::fprintf(stderr, "hearth chat: %s (use /reset to start over)\n",
                   result.error().message.c_str());
      request.messages.erase(request.messages.end() - 1);
      continue;
    }
    request.messages.push_back({{"role", "assistant"}, {"content", result->text}});
  }
  return 0;
}

}  // namespace

void register_chat(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("chat", "Chat with a model in the terminal");
  auto args = std::make_shared<ChatArgs>();
  cmd->add_option("-m,--model", args->model, "GGUF model file")->required();
  cmd->add_option("--system", args->system, "System prompt");
  cmd->add_option("--temp", args->temperature, "Temperature; 0 = greedy")
      ->check(CLI::Range(0.0, 2.0));
  cmd->add_option("--seed", args->seed, "Random seed");
  cmd->add_option("-n,--max-tokens", args->max_tokens, "Longest reply in tokens")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("-c,--ctx-size", args->ctx_size, "Context size (0: model default)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-t,--threads", args->threads, "Threads (0: all cores)")
      ->check(CLI::Range(0, 1024));
  cmd->callback([args, &exit_code] { exit_code = run_chat(*args); });
}

}  // namespace hearth::cli
