// `hearth cache list|location|remove|prune`: the downloaded models under $HEARTH_HOME.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "catalog/cache.h"
#include "catalog/catalog.h"
#include "cli/commands.h"

namespace hearth::cli {
namespace {

using namespace hearth::catalog;

int run_list(bool verify) {
  const auto home = hearth_home();
  const auto files = cache_list(home, verify);
  if (files.empty()) {
    std::printf("the cache is empty (%s); `hearth model download ALIAS` fetches a model\n",
                (home / "models").c_str());
    return 0;
  }
  // The alias and the Ollama-style name:tag a file answers to (what /api/tags lists),
  // when a catalog entry names it.
  auto catalog = Catalog::load(home);
  auto names_of = [&](const CachedFile& f) -> std::pair<std::string, std::string> {
    if (!catalog) return {"-", "-"};
    for (const auto& e : catalog->entries()) {
      for (const auto& v : e.variants) {
        if (v.repo == f.repo && v.file == f.file) return {e.alias, e.alias + ":" + v.quantization};
      }
    }
    return {"-", "-"};
  };
  int problems = 0;
  std::printf("%-9s %-11s %-20s %-26s %s\n", "STATE", "SIZE", "ALIAS", "OLLAMA NAME", "FILE");
  for (const auto& f : files) {
    const auto [alias, ollama_name] = names_of(f);
    std::printf("%-9s %-11s %-20s %-26s %s/%s%s%s\n", to_string(f.state),
                format_bytes(f.size).c_str(), alias.c_str(), ollama_name.c_str(), f.repo.c_str(),
                f.file.c_str(), f.problem.empty() ? "" : "  -- ", f.problem.c_str());
    if (f.state == CacheState::kCorrupt) ++problems;
  }
  if (problems) {
    std::printf(
        "%d file(s) no longer verify: `hearth model download ALIAS` fetches them again, `hearth "
        "cache prune` removes them\n",
        problems);
  }
  return 0;
}

int run_remove(const std::string& spec) {
  auto catalog = Catalog::load(hearth_home());
  if (!catalog) {
    std::fprintf(stderr, "hearth cache remove: %s\n", catalog.error().message.c_str());
    return 1;
  }
  auto ref = resolve(*catalog, spec, Machine::detect());
  if (!ref || ref->kind != ModelRef::Kind::kHub) {
    std::fprintf(stderr, "hearth cache remove: %s\n",
                 ref ? "a local file is not in the cache" : ref.error().message.c_str());
    return 1;
  }
  // An alias without a quantization removes every cached variant of it.
  std::vector<Variant> variants;
  if (ref->entry && spec.find(':') == std::string::npos) {
    variants = ref->entry->variants;
  } else {
    variants.push_back(ref->variant);
  }
  uint64_t freed = 0;
  for (const auto& v : variants) {
    auto r = cache_remove(hearth_home(), v);
    if (!r) {
      std::fprintf(stderr, "hearth cache remove: %s\n", r.error().message.c_str());
      return 1;
    }
    freed += *r;
  }
  std::printf("removed %s (%s freed)\n", spec.c_str(), format_bytes(freed).c_str());
  return 0;
}

int run_prune() {
  auto freed = cache_prune(hearth_home());
  if (!freed) {
    std::fprintf(stderr, "hearth cache prune: %s\n", freed.error().message.c_str());
    return 1;
  }
  std::printf("pruned partial downloads and files that no longer verify (%s freed)\n",
              format_bytes(*freed).c_str());
  return 0;
}

}  // namespace

void register_cache(CLI::App& app, int& exit_code) {
  auto* cache = app.add_subcommand("cache", "The local model cache: list, location, remove, prune");
  cache->require_subcommand(1);
  auto verify = std::make_shared<bool>(false);
  auto* list = cache->add_subcommand("list", "Cached files and their state");
  list->add_flag("--verify", *verify, "Re-hash every file (slow for big models)");
  list->callback([verify, &exit_code] { exit_code = run_list(*verify); });
  cache->add_subcommand("location", "Where the cache lives")->callback([] {
    std::printf("%s\n", (hearth_home() / "models").c_str());
  });
  auto spec = std::make_shared<std::string>();
  auto* remove = cache->add_subcommand("remove", "Delete a model's cached files");
  remove->add_option("model", *spec, "Alias (every variant), alias:quant or hf://...")->required();
  remove->callback([spec, &exit_code] { exit_code = run_remove(*spec); });
  cache->add_subcommand("prune", "Delete partial downloads and files that no longer verify")
      ->callback([&exit_code] { exit_code = run_prune(); });
}

}  // namespace hearth::cli
