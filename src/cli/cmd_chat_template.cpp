// `hearth chat-template`: renders a chat template for a conversation, exactly as the engine
// would feed it to a model. Useful to check a template before serving it.
#include <CLI/CLI.hpp>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "engine/chat/model_template.h"
#include "engine/gguf/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace hearth::cli {
namespace {

struct ChatTemplateArgs {
  std::string model_path;
  std::string template_path;
  std::string messages_path;
  std::string tools_path;
  std::string kwargs;  // JSON object text, as a request's chat_template_kwargs
  std::string bos_token;
  std::string eos_token;
  bool no_generation_prompt = false;
};

bool read_text(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

// Loads a JSON file keeping key order, which tojson output depends on.
bool read_json(const std::string& path, nlohmann::ordered_json& out) {
  std::string text;
  if (!read_text(path, text)) {
    std::cerr << "error: cannot read " << path << "\n";
    return false;
  }
  try {
    out = nlohmann::ordered_json::parse(text);
  } catch (const std::exception& e) {
    std::cerr << "error: " << path << " is not valid JSON: " << e.what() << "\n";
    return false;
  }
  return true;
}

// The template to render: a file, or the one in a model's GGUF (ChatML when it has none).
// A model also supplies the default BOS/EOS token texts.
Result<chat::ChatTemplate> load_template(const ChatTemplateArgs& args, std::string& bos,
                                         std::string& eos) {
  if (!args.model_path.empty()) {
    auto file = gguf::File::open(args.model_path);
    if (!file) return std::unexpected(file.error());
    auto tokenizer = Tokenizer::from_gguf(*file);
    if (!tokenizer) return std::unexpected(tokenizer.error());
    auto model = chat::model_chat_template(*file, *tokenizer);
    if (!model) return std::unexpected(model.error());
    if (model->is_fallback) {
      std::cerr << "note: the model has no chat template; rendering the ChatML fallback\n";
    }
    bos = model->bos_token;
    eos = model->eos_token;
    return std::move(model->chat_template);
  }
  std::string source;
  if (!read_text(args.template_path, source)) return fail("cannot read " + args.template_path);
  return chat::ChatTemplate::parse(source);
}

int run_chat_template(const ChatTemplateArgs& args) {
  std::string model_bos, model_eos;
  auto tmpl = load_template(args, model_bos, model_eos);
  if (!tmpl) {
    std::cerr << tmpl.error().message << "\n";
    return 1;
  }
  chat::ChatRequest request;
  if (!read_json(args.messages_path, request.messages)) return 1;
  if (!request.messages.is_array()) {
    std::cerr << "error: " << args.messages_path << " must hold a JSON array of messages\n";
    return 1;
  }
  if (!args.tools_path.empty() && !read_json(args.tools_path, request.tools)) return 1;
  if (!args.kwargs.empty()) {
    // Given inline, like a request's chat_template_kwargs, since it is usually one switch.
    try {
      request.template_kwargs = nlohmann::ordered_json::parse(args.kwargs);
    } catch (const std::exception& e) {
      std::cerr << "error: --kwargs is not valid JSON: " << e.what() << "\n";
      return 1;
    }
    if (!request.template_kwargs.is_object()) {
      std::cerr << "error: --kwargs must be a JSON object, e.g. '{\"enable_thinking\": false}'\n";
      return 1;
    }
  }
  request.add_generation_prompt = !args.no_generation_prompt;
  request.bos_token = args.bos_token.empty() ? model_bos : args.bos_token;
  request.eos_token = args.eos_token.empty() ? model_eos : args.eos_token;
  auto rendered = chat::apply_chat_template(*tmpl, request);
  if (!rendered) {
    std::cerr << rendered.error().message << "\n";
    return 1;
  }
  std::cout << *rendered << std::flush;
  return 0;
}

}  // namespace

void register_chat_template(CLI::App& app, int& exit_code) {
  auto args = std::make_shared<ChatTemplateArgs>();
  CLI::App* cmd = app.add_subcommand("chat-template", "Render a chat template for a conversation");
  auto* model = cmd->add_option("-m,--model", args->model_path, "GGUF model whose template to use")
                    ->check(CLI::ExistingFile);
  auto* file = cmd->add_option("--template", args->template_path, "Jinja chat template file")
                   ->check(CLI::ExistingFile);
  model->excludes(file);
  file->excludes(model);
  cmd->add_option("--messages", args->messages_path, "JSON file with the list of messages")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--tools", args->tools_path, "JSON file with the list of tools")
      ->check(CLI::ExistingFile);
  cmd->add_option("--kwargs", args->kwargs,
                  "JSON object of extra template variables, as a request's "
                  "chat_template_kwargs (e.g. '{\"enable_thinking\": false}')");
  cmd->add_option("--bos-token", args->bos_token, "Value of bos_token in the template");
  cmd->add_option("--eos-token", args->eos_token, "Value of eos_token in the template");
  cmd->add_flag("--no-generation-prompt", args->no_generation_prompt,
                "Render with add_generation_prompt=false");
  cmd->callback([args, model, file, &exit_code] {
    if (model->count() == 0 && file->count() == 0) {
      std::cerr << "hearth chat-template: give -m MODEL or --template FILE\n";
      exit_code = 1;
      return;
    }
    exit_code = run_chat_template(*args);
  });
}

}  // namespace hearth::cli
