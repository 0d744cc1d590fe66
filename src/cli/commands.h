// Every `hearth` subcommand registers itself on the root CLI11 app through one of these.
// A command's callback sets `exit_code` (0 on success); errors go to stderr as one clear line.
#pragma once

namespace CLI {
class App;
}

namespace hearth::cli {

void register_inspect(CLI::App& app, int& exit_code);
void register_tokenize(CLI::App& app, int& exit_code);
void register_chat_template(CLI::App& app, int& exit_code);
void register_serve(CLI::App& app, int& exit_code);
void register_logits(CLI::App& app, int& exit_code);
void register_generate(CLI::App& app, int& exit_code);
void register_chat(CLI::App& app, int& exit_code);
void register_bench(CLI::App& app, int& exit_code);
void register_model(CLI::App& app, int& exit_code);
void register_cache(CLI::App& app, int& exit_code);
void register_service(CLI::App& app, int& exit_code);
void register_route(CLI::App& app, int& exit_code);
void register_rag(CLI::App& app, int& exit_code);

}  // namespace hearth::cli
