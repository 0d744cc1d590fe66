// hearth: one binary, many subcommands. Each lives in its own cmd_*.cpp.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <exception>
#include <string>

#include "cli/commands.h"
#include "engine/platform/signals.h"
#include "hearth/version.h"

int main(int argc, char** argv) {
  // Process-wide, so here and not in a library: past a file size limit (a quota), a download
  // or a cache write fails with an Error ("nothing was cached") instead of killing hearth.
  if (auto s = hearth::platform::ignore_file_size_signal(); !s) {
    std::fprintf(stderr, "hearth: %s\n", s.error().message.c_str());
  }
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
  hearth::cli::register_route(app, exit_code);
  hearth::cli::register_rag(app, exit_code);
  hearth::cli::register_compare(app, exit_code);
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
