// Loads models on demand for the server by catalog alias, alias:quant, hf://... or path,
// downloading into the cache when allowed.
#pragma once

#include <filesystem>
#include <memory>

#include "server/model_registry.h"
#include "server/scheduler.h"

namespace hearth::server {

struct Metrics;

struct CatalogProviderOptions {
  std::filesystem::path home;  // $HEARTH_HOME
  bool allow_download = true;
  SchedulerOptions scheduler;
  int n_threads = 0;
  int n_ctx = 0;
};

std::shared_ptr<ModelProvider> make_catalog_provider(CatalogProviderOptions options,
                                                     Metrics* metrics);

}  // namespace hearth::server
