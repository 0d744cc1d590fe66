// Loads models on demand for the server by catalog alias, alias:quant, hf://... or path,
// downloading into the cache when allowed. The catalog is read once per process (by the
// Service) and shared, read-only, by the provider and the model-management routes.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "catalog/catalog.h"
#include "server/model_registry.h"
#include "server/scheduler.h"

namespace hearth::server {

struct Metrics;

struct CatalogProviderOptions {
  std::filesystem::path home;                       // $HEARTH_HOME
  std::shared_ptr<const catalog::Catalog> catalog;  // required; immutable, shared
  bool allow_download = true;
  SchedulerOptions scheduler;
  int n_threads = 0;
  int n_ctx = 0;
};

// What `name` means in `catalog` on this machine. An unknown name is a 404 model_not_found
// carrying the catalog's explanation (suggestions, the variants that exist); other failures
// get their status from the error's kind. Thread-safe.
ApiResult<catalog::ModelRef> resolve_model(const catalog::Catalog& catalog,
                                           const std::string& name);

std::shared_ptr<ModelProvider> make_catalog_provider(CatalogProviderOptions options,
                                                     Metrics* metrics);

}  // namespace hearth::server
