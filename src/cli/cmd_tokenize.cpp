// `hearth tokenize -m MODEL [--raw] (TEXT | --file PATH)`: prints {"ids":[...]} and a newline.
// By default the model's BOS/EOS rule applies and special tokens written in the text (such as
// "<|im_start|>") become single tokens; --raw does neither.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct TokenizeOptions {
  std::string model_path;
  std::string text;
  std::string file_path;
  bool raw = false;
};

int run_tokenize(const TokenizeOptions& options, bool have_text, bool have_file) {
  if (have_text == have_file) {
    std::fprintf(stderr, "hearth tokenize: give either TEXT or --file PATH\n");
    return 1;
  }
  std::string text = options.text;
  if (have_file) {
    std::ifstream in(options.file_path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "hearth tokenize: cannot read '%s'\n", options.file_path.c_str());
      return 1;
    }
    std::ostringstream content;
    content << in.rdbuf();
    text = content.str();
  }
  auto file = gguf::File::open(options.model_path);
  if (!file) {
    std::fprintf(stderr, "hearth tokenize: %s\n", file.error().message.c_str());
    return 1;
  }
  auto tokenizer = Tokenizer::from_gguf(*file);
  if (!tokenizer) {
    std::fprintf(stderr, "hearth tokenize: %s: %s\n", options.model_path.c_str(),
                 tokenizer.error().message.c_str());
    return 1;
  }
  const bool special = !options.raw;
  nlohmann::json out;
  out["ids"] = tokenizer->encode(text, special, special);
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

void register_tokenize(CLI::App& app, int& exit_code);

void register_tokenize(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("tokenize", "Print the token ids of a text as JSON");
  auto options = std::make_shared<TokenizeOptions>();
  cmd->add_option("-m,--model", options->model_path, "GGUF file with the vocabulary")->required();
  cmd->add_flag("--raw", options->raw, "No BOS/EOS, special tokens not parsed");
  auto* text = cmd->add_option("text", options->text, "Text to tokenize");
  auto* file = cmd->add_option("--file", options->file_path, "Read the text from a file");
  text->excludes(file);
  cmd->callback([options, text, file, &exit_code] {
    exit_code = run_tokenize(*options, text->count() > 0, file->count() > 0);
  });
}

}  // namespace hearth::cli
