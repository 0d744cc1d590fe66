// The model catalog: short aliases (`qwen2.5-0.5b`) for GGUF files on a model hub, with the
// facts a user chooses by (family, tasks, license, context, size) and one variant per
// quantization. The built-in list is `catalog/models.json`, compiled into the binary; users
// add or override aliases with `$HEARTH_HOME/catalog.d/*.json` in the same shape.
//
// `resolve` turns what a user typed into something fetchable or loadable: an alias (the
// variant that fits this machine), `alias:q8_0` (that variant), `hf://owner/repo/file.gguf`,
// or a local path. Everything here is a value; errors come back as Result.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "hearth/status.h"

namespace hearth::catalog {

inline constexpr std::string_view kKnownTasks[] = {"chat", "code", "reasoning", "embedding"};

struct Variant {
  std::string quantization;  // lower case: q4_k_m, q8_0, f16, f32 ...
  std::string repo;          // owner/name on the hub
  std::string file;          // path inside the repository
  std::string revision = "main";
  uint64_t size = 0;     // exact bytes; 0 = unknown
  uint64_t size_mb = 0;  // approximate MiB, for deciding what fits in memory
  std::string sha256;    // lower-case hex; empty = unknown
  // Bytes the variant takes on disk/in memory: exact when known, else the approximation.
  uint64_t approx_bytes() const { return size ? size : size_mb << 20; }
};

struct Entry {
  std::string alias;
  std::string family;
  std::string description;
  std::string license;
  std::string parameters;  // as people say it: "0.5B", "260K"
  int64_t context_length = 0;
  std::vector<std::string> tasks;
  std::vector<Variant> variants;  // in order of preference
  std::string source;             // the file this entry came from
  bool has_task(std::string_view task) const;
  const Variant* variant(std::string_view quantization) const;
};

class Catalog {
 public:
  // Parses one catalog document; `source` names it in error messages.
  static Result<Catalog> parse(std::string_view json_text, const std::string& source);
  // The built-in catalog (or the file in $HEARTH_CATALOG) plus `home`/catalog.d/*.json.
  // A broken user file does not make the catalog unusable: it is skipped with a warning.
  static Result<Catalog> load(const std::filesystem::path& home);

  // Adds entries; one with an alias already present replaces it (user files override).
  void merge(Catalog other);
  const Entry* find(std::string_view alias) const;  // case-insensitive
  const std::vector<Entry>& entries() const { return entries_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  // Aliases close to `name` (edit distance), best first, for "did you mean".
  std::vector<std::string> suggestions(std::string_view name, size_t max = 3) const;

 private:
  std::vector<Entry> entries_;
  std::vector<std::string> warnings_;
};

// What this machine offers, for picking a variant.
struct Machine {
  uint64_t memory_total = 0;      // bytes
  uint64_t memory_available = 0;  // bytes (MemAvailable)
  bool avx2 = false;
  bool avx512 = false;
  bool f16c = false;
  static Machine detect();
};

// Something `hearth` can load: a local file, or a file on the hub (maybe already cached).
struct ModelRef {
  enum class Kind { kLocalFile, kHub } kind = Kind::kHub;
  std::filesystem::path local_path;  // kLocalFile
  Variant variant;                   // kHub
  std::optional<Entry> entry;        // when it came from the catalog
  std::string name;                  // what to call it: the alias, or the file stem
  std::string choice_note;           // why this variant was picked (empty when pinned)
};

// Resolves what a user typed. Errors: unknown alias (with suggestions), unknown
// quantization (with the ones that exist), malformed hf:// reference, missing local file.
Result<ModelRef> resolve(const Catalog& catalog, std::string_view spec, const Machine& machine);

// Levenshtein distance, case-insensitive.
size_t edit_distance(std::string_view a, std::string_view b);

// The name a file gets in the cache and in listings: "alias" or "alias:quant".
std::string display_name(const ModelRef& ref);

}  // namespace hearth::catalog
