#include "server/catalog_provider.h"

#include <cstdio>

#include "catalog/cache.h"
#include "catalog/download.h"

namespace hearth::server {
namespace {

namespace cat = hearth::catalog;

// A failure to find or fetch `name`, in the shape clients expect: not-found kinds become
// model_not_found (param "model"), everything else keeps its kind's status.
ApiError model_error(const std::string& name, const Error& error) {
  if (error.kind != ErrorKind::kNotFound) return api_error_from(error);
  ApiError e = model_not_found(name);
  e.message = error.message;
  return e;
}

class CatalogProvider : public ModelProvider {
 public:
  CatalogProvider(CatalogProviderOptions options, Metrics* metrics)
      : options_(std::move(options)), metrics_(metrics) {}

  ApiResult<ModelSource> locate(const std::string& name, uint64_t memory_budget) override {
    auto ref = resolve_model(*options_.catalog, name);
    if (!ref) return api_fail(ref.error());
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
        return api_fail(model_error(
            name, Error{"model " + name + " is not downloaded (`hearth model download " + name +
                            "` fetches it)",
                        ErrorKind::kNotFound}));
      }
      std::fprintf(stderr, "hearth serve: downloading %s\n", cat::display_name(*ref).c_str());
      cat::ProgressPrinter printer("hearth serve: " + cat::display_name(*ref));
      cat::DownloadOptions download_options;
      download_options.on_progress = [&](const cat::DownloadProgress& p) { printer(p); };
      auto result = cat::download(options_.home, ref->variant, download_options);
      printer.finish();
      if (!result) {
        ApiError e = model_error(name, result.error());
        if (e.status >= 500) e.code = "download_failed";
        return api_fail(e);
      }
      cached.path = result->file;
      cached.size = result->size;
    }
    return ModelSource{name, cached.path, cached.size};
  }

  ApiResult<std::shared_ptr<ServedModel>> load(const ModelSource& source) override {
    auto model = Model::load(
        source.path, ModelOptions{.n_threads = options_.n_threads, .n_ctx = options_.n_ctx});
    if (!model) {
      return api_fail(api_error_from(
          with_context("cannot load " + source.path.string(), model.error()).error()));
    }
    auto served = ServedModel::create(source.id, *model, options_.scheduler, metrics_);
    if (!served) return api_fail(api_error_from(served.error()));
    if ((*served)->uses_fallback_template()) {
      std::fprintf(stderr, "hearth serve: %s has no chat template; using the ChatML fallback\n",
                   source.id.c_str());
    }
    std::fprintf(stderr, "hearth serve: loaded %s (%s; %d slots of %d tokens)\n", source.id.c_str(),
                 source.path.c_str(), (*served)->scheduler().n_slots(),
                 (*served)->scheduler().n_ctx());
    return std::shared_ptr<ServedModel>(std::move(*served));
  }

 private:
  CatalogProviderOptions options_;
  Metrics* metrics_;
};

}  // namespace

ApiResult<catalog::ModelRef> resolve_model(const catalog::Catalog& catalog,
                                           const std::string& name) {
  auto ref = cat::resolve(catalog, name, cat::Machine::detect());
  if (!ref) {
    // Whatever the catalog objects to (an unknown alias, a malformed hf:// reference, a file
    // that is not .gguf), the request named no model this server has: OpenAI answers that
    // with 404 model_not_found, and clients rely on it.
    Error error = ref.error();
    error.kind = ErrorKind::kNotFound;
    return api_fail(model_error(name, error));
  }
  return std::move(*ref);
}

std::shared_ptr<ModelProvider> make_catalog_provider(CatalogProviderOptions options,
                                                     Metrics* metrics) {
  return std::make_shared<CatalogProvider>(std::move(options), metrics);
}

}  // namespace hearth::server
