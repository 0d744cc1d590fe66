// hearth: one binary, many subcommands. Each lives in its own cmd_*.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "hearth/version.h"

int main(int argc, char** argv) {
  CLI::App app{"hearth: local small-language-model runtime"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "hearth " + std::string(hearth::version()));
  int exit_code = 0;
  hearth::cli::register_inspect(app, exit_code);
  hearth::cli::register_tokenize(app, exit_code);
  hearth::cli::register_chat_template(app, exit_code);
  hearth::cli::register_serve(app, exit_code);
  hearth::cli::register_logits(app, exit_code);
  hearth::cli::register_generate(app, exit_code);
  hearth::cli::register_chat(app, exit_code);
  hearth::cli::register_bench(app, exit_code);
  hearth::cli::register_model(app, exit_code);
  hearth::cli::register_cache(app, exit_code);
  hearth::cli::register_service(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "hearth: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
