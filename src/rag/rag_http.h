// RAG in `hearth serve`: OpenAI's Files and Vector Stores routes over hearth's collections,
// and grounded chat completions. Implements server::RagService (server/rag_service.h), which
// cmd_serve hands to the Service. docs/rag.md ("HTTP") describes the routes and shapes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "hearth/status.h"
#include "server/rag_service.h"

namespace hearth::rag {

struct RagServiceOptions {
  std::filesystem::path files_dir;        // $HEARTH_HOME/files
  int64_t max_upload_bytes = 64ll << 20;  // a larger upload is a 413
  std::string embedder_name;              // the embedder new stores get; empty: BM25-only
  std::filesystem::path embedder_path;
};

Result<std::shared_ptr<server::RagService>> make_rag_service(RagServiceOptions options);

}  // namespace hearth::rag
