#include "server/catalog_provider.h"

#include <cstdio>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "catalog/download.h"

namespace hearth::server {
namespace {

namespace cat = hearth::catalog;

class CatalogProvider : public ModelProvider {
 public:
  CatalogProvider(CatalogProviderOptions options, Metrics* metrics)
      : options_(std::move(options)), metrics_(metrics) {}

  ApiResult<ModelSource> locate(const std::string& name, uint64_t memory_budget) override {
    auto catalog = cat::Catalog::load(options_.home);
    if (!catalog) return api_fail(internal_error(catalog.error().message));
    auto ref = cat::resolve(*catalog, name, cat::Machine::detect());
    if (!ref) {
      ApiError e = model_not_found(name);
      e.message = ref.error().message;
      return api_fail(e);
    }
    std::error_code ec;
    if (ref->kind == cat::ModelRef::Kind::kLocalFile) {
      return ModelSource{name, ref->local_path, std::filesystem::file_size(ref->local_path, ec)};
    }
    auto cached = cat::cache_lookup(options_.home, ref->variant, false);
    if (cached.state != cat::CacheState::kCached) {
      // Gigabytes that could never be loaded are not worth fetching.
      if (memory_budget > 0 && ref->variant.approx_bytes() > memory_budget) {
        return api_fail(insufficient_memory(
            "model " + name + " (" + cat::display_name(*ref) + ") needs about " +
            std::to_string(ref->variant.approx_bytes() >> 20) +
            " MiB, more than the server's memory budget of " + std::to_string(memory_budget >> 20) +
            " MiB (--memory-budget)"));
      }
      if (!options_.allow_download) {
        ApiError e = model_not_found(name);
        e.message = "model " + name + " is not downloaded (`hearth model download " + name +
                    "` fetches it)";
        return api_fail(e);
      }
      std::fprintf(stderr, "hearth serve: downloading %s\n", cat::display_name(*ref).c_str());
      cat::ProgressPrinter printer("hearth serve: " + cat::display_name(*ref));
      cat::DownloadOptions download_options;
      download_options.on_progress = [&](const cat::DownloadProgress& p) { printer(p); };
      auto result = cat::download(options_.home, ref->variant, download_options);
      printer.finish();
      if (!result) {
        return api_fail({.status = 502,
                         .message = result.error().message,
                         .type = "server_error",
                         .code = "download_failed"});
      }
      cached.path = result->file;
      cached.size = result->size;
    }
    return ModelSource{name, cached.path, cached.size};
  }

  ApiResult<std::shared_ptr<ServedModel>> load(const ModelSource& source) override {
    auto model = Model::load(
        source.path, ModelOptions{.n_threads = options_.n_threads, .n_ctx = options_.n_ctx});
    if (!model)
      return api_fail(
          internal_error("cannot load " + source.path.string() + ": " + model.error().message));
    auto served = ServedModel::create(source.id, *model, options_.scheduler, metrics_);
    if (!served) return api_fail(internal_error(served.error().message));
    std::fprintf(stderr, "hearth serve: loaded %s (%s)\n", source.id.c_str(), source.path.c_str());
    return std::shared_ptr<ServedModel>(std::move(*served));
  }

 private:
  CatalogProviderOptions options_;
  Metrics* metrics_;
};

}  // namespace

std::shared_ptr<ModelProvider> make_catalog_provider(CatalogProviderOptions options,
                                                     Metrics* metrics) {
  return std::make_shared<CatalogProvider>(std::move(options), metrics);
}

}  // namespace hearth::server
