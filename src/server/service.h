// `hearth serve` assembled: one catalog per process, the model registry (with the catalog
// provider), metrics, the OpenAI, Foundry and Ollama routes, the HTTP server, and the reaper that
// unloads idle models. cmd_serve parses flags and handles signals; everything else is here,
// so tests and other front ends can run the same server.
//
// Lifecycle: create (loads the catalog and the -m models) → run (blocks serving) → stop
// (from another thread: drain in-flight requests, then close the listener).
// Thread-safety: `stop` and `bound_port` may be called from any thread while `run` blocks.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "hearth/status.h"
#include "http/server.h"
#include "server/metrics.h"
#include "server/model_files.h"
#include "server/model_registry.h"
#include "server/model_router.h"
#include "server/rag_service.h"
#include "server/scheduler.h"

namespace hearth::server {

// A model to load at startup: a GGUF path, catalog alias or hf:// reference, and the id to
// serve it under (empty: the alias, or the file's stem).
struct StartupModel {
  std::string spec;
  std::string id;
};

struct ServiceOptions {
  http::ServerOptions http;  // render_error and public paths are filled in by the Service
  std::filesystem::path home;
  bool allow_download = true;
  SchedulerOptions scheduler;
  RegistryLimits limits;
  std::vector<StartupModel> models;
  // Stored Responses (POST /v1/responses) kept in home/responses.sqlite: the newest N.
  size_t max_stored_responses = 1000;
  // Answers requests naming its routes (hearth serve --router); null: none.
  std::shared_ptr<ModelRouter> router;
  // Files, vector stores and grounded chat (src/rag, made by cmd_serve); null: none.
  std::shared_ptr<RagService> rag;
  // A second listener with the same routes (hearth serve --ollama-port, Ollama's 11434);
  // negative: none, 0: any free port (ollama_bound_port).
  int ollama_port = -1;
  // The web app at / (docs/web.md) and its conversations in home/conversations.sqlite;
  // false (hearth serve --no-ui): neither, and / answers as Ollama does.
  bool web_ui = true;
  // Where the browser engine's hearth_wasm.js/.wasm are served from (docs/wasm.md); empty:
  // looked for beside the binary (wasm/, ../build-wasm/).
  std::filesystem::path wasm_dir;
};

class Service {
 public:
  // Loads the catalog and the startup models. A startup model given by path (or with an
  // id) that fails to load is an Error; a catalog name that cannot be fetched (offline) is
  // reported and skipped, so the server still starts.
  static Result<std::unique_ptr<Service>> create(ServiceOptions options);
  ~Service();

  // Serves until stop(); an Error when the address cannot be bound.
  Status run();
  // Stops admitting requests, waits up to `drain_timeout` for in-flight ones (drain), then
  // closes the listener so run() returns.
  void stop(bool drain, std::chrono::milliseconds drain_timeout = std::chrono::seconds(30));

  int bound_port() const { return server_ ? server_->bound_port() : 0; }
  int ollama_bound_port() const { return ollama_server_ ? ollama_server_->bound_port() : 0; }
  ModelRegistry& registry() { return registry_; }

 private:
  Service() = default;
  Status load_startup_model(const StartupModel& model);

  ServiceOptions options_;
  Metrics metrics_;
  ModelRegistry registry_;
  std::shared_ptr<const catalog::Catalog> catalog_;
  std::shared_ptr<ModelProvider> provider_;
  std::unique_ptr<ModelFiles> model_files_;  // GET /v1/models/{id}/file
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Server> ollama_server_;  // --ollama-port; null without it
  std::atomic<bool> stopping_{false};
};

}  // namespace hearth::server
