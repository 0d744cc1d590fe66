// Model management over HTTP, on the routes Foundry Local uses, so its tools and SDKs work:
//   GET  /openai/status              endpoint and model folder
//   GET  /foundry/list               the catalog, one row per variant
//   GET  /openai/models              names of downloaded models
//   GET  /openai/load/{name}?ttl=S   load (download first when allowed)
//   GET  /openai/unload/{name}?force=true
//   GET  /openai/loadedmodels        names of loaded models
//   POST /openai/download            {"model":{"Name":...}} or {"name":...}; streams progress
// plus GET /hearth/loaded: loaded models with memory, requests in flight and TTL left.
#pragma once

#include <filesystem>
#include <memory>

#include "catalog/catalog.h"
#include "http/router.h"
#include "server/model_registry.h"

namespace hearth::server {

struct FoundryRoutesOptions {
  std::filesystem::path home;                       // $HEARTH_HOME
  std::shared_ptr<const catalog::Catalog> catalog;  // the process's catalog; required
  std::string endpoint;                             // http://host:port
  bool allow_download = true;
};

// Registers the routes on `router`; `registry` must outlive the server.
void register_foundry_routes(http::Router& router, ModelRegistry& registry,
                             FoundryRoutesOptions options);

}  // namespace hearth::server
