// Every `hearth` subcommand registers itself on the root CLI11 app through one of these.
// A command's callback sets `exit_code` (0 on success); errors go to stderr as one clear line.
#pragma once

#include <filesystem>
#include <string>

#include "hearth/status.h"

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
void register_compare(CLI::App& app, int& exit_code);
// Subcommands of `hearth rag` that live in their own files (cmd_rag_*.cpp).
void register_rag_eval(CLI::App& rag, int& exit_code);
void register_rag_reindex(CLI::App& rag, int& exit_code);

// The GGUF file of an embedding model named as `hearth rag add --embed` takes it (a catalog
// alias already downloaded, or a path). cmd_serve uses it for the vector stores' embedder.
Result<std::filesystem::path> rag_embedder_file(const std::string& spec);
// The GGUF file a model option names: a path, or a catalog alias already downloaded (not
// downloaded: an Error naming `what` and the command that fetches it).
Result<std::filesystem::path> local_model_file(const std::string& spec, const char* what);
// The embedder `hearth rag add` gives a new collection when none is named.
inline constexpr const char* kRagDefaultEmbedder = "nomic-embed-text";

}  // namespace hearth::cli
