// Turning what a user typed into a ModelRef, and the machine facts that pick a variant.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "catalog/catalog.h"
#include "engine/platform/cpu_features.h"
#include "hearth/memory_estimate.h"

namespace hearth::catalog {
namespace {

std::string format_mib(uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

// Memory a variant needs once loaded, before its file has been read: the shared estimate's
// guess for a session with the default KV cache type.
uint64_t memory_needed(const Variant& v) {
  return model_memory_guess(v.approx_bytes(), kDefaultKvCacheType);
}

bool cpu_can_run(const Variant& v, const Machine& m) {
  // Half-precision weights are only worth it where the CPU converts them in hardware.
  if (v.quantization == "f16" || v.quantization == "bf16") return m.f16c;
  return true;
}

Result<ModelRef> pick_variant(const Entry& entry, const Machine& machine) {
  // Leave half of the free memory to everything else running here.
  const uint64_t budget = machine.memory_available / 2;
  const Variant* chosen = nullptr;
  for (const auto& v : entry.variants) {
    if (!cpu_can_run(v, machine)) continue;
    if (machine.memory_available == 0 || memory_needed(v) <= budget) {
      chosen = &v;
      break;
    }
  }
  std::string note;
  if (chosen) {
    note = chosen->quantization + " (preferred variant that fits " + format_mib(budget) +
           " of memory)";
  } else {
    // Nothing fits: take the smallest, and say so; loading may still work with swap.
    chosen = &*std::min_element(
        entry.variants.begin(), entry.variants.end(),
        [](const Variant& a, const Variant& b) { return a.approx_bytes() < b.approx_bytes(); });
    note = chosen->quantization + " (smallest variant; it needs about " +
           format_mib(memory_needed(*chosen)) + " but only " +
           format_mib(machine.memory_available) + " is free)";
  }
  ModelRef ref;
  ref.kind = ModelRef::Kind::kHub;
  ref.variant = *chosen;
  ref.entry = entry;
  ref.name = entry.alias;
  ref.choice_note = std::move(note);
  return ref;
}

// "SPEC" followed by `what`. Built by appending: GCC 12 warns falsely (-Wrestrict) on
// "literal" + std::string&&.
std::string hub_error(std::string_view spec, std::string_view what) {
  std::string message = "\"";
  message.append(spec).append("\"").append(what);
  return message;
}

Result<ModelRef> resolve_hf(std::string_view spec) {
  // hf://owner/repo/path/to/file.gguf[@revision]
  std::string rest(spec.substr(5));
  std::string revision = "main";
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    revision = rest.substr(at + 1);
    rest.resize(at);
  }
  const auto first = rest.find('/');
  const auto second = first == std::string::npos ? std::string::npos : rest.find('/', first + 1);
  if (second == std::string::npos || second + 1 >= rest.size()) {
    return invalid_input(hub_error(spec, " is not a hub reference: use hf://owner/repo/file.gguf"));
  }
  ModelRef ref;
  ref.kind = ModelRef::Kind::kHub;
  ref.variant.repo = rest.substr(0, second);
  ref.variant.file = rest.substr(second + 1);
  ref.variant.revision = revision.empty() ? "main" : revision;
  if (ref.variant.file.find("..") != std::string::npos ||
      ref.variant.repo.find("..") != std::string::npos) {
    return invalid_input(hub_error(spec, ": \"..\" is not allowed in a hub reference"));
  }
  // These end up in a URL and a cache path: plain path characters only.
  for (char c : rest) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != '/' && c != '+') {
      return invalid_input(
          hub_error(spec, ": unexpected character '" + std::string(1, c) + "' in a hub reference"));
    }
  }
  if (!ref.variant.file.ends_with(".gguf")) {
    return unsupported(hub_error(spec, ": hearth loads .gguf files only"));
  }
  ref.variant.quantization = "";
  ref.name = std::filesystem::path(ref.variant.file).stem().string();
  // A hub file that the catalog knows keeps its checksum.
  return ref;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

}  // namespace

Machine Machine::detect() {
  Machine m;
  std::ifstream meminfo("/proc/meminfo");
  for (std::string line; std::getline(meminfo, line);) {
    std::istringstream ss(line);
    std::string key;
    uint64_t kib = 0;
    ss >> key >> kib;
    if (key == "MemTotal:") m.memory_total = kib << 10;
    if (key == "MemAvailable:") m.memory_available = kib << 10;
  }
  // The engine's own detection: usable only where the OS also saves the registers.
  const CpuFeatures& cpu = cpu_features();
  m.avx2 = cpu.avx2;
  m.avx512 = cpu.avx512f;
  m.f16c = cpu.f16c;
  return m;
}

Result<ModelRef> resolve(const Catalog& catalog, std::string_view spec, const Machine& machine) {
  if (spec.empty())
    return invalid_input(
        "no model given: name a catalog alias (see `hearth model list`), hf://owner/repo/file.gguf "
        "or a .gguf path");
  if (spec.starts_with("hf://")) {
    auto ref = resolve_hf(spec);
    if (!ref) return ref;
    for (const auto& e : catalog.entries()) {  // reuse what the catalog knows (sha256, size)
      for (const auto& v : e.variants) {
        if (v.repo == ref->variant.repo && v.file == ref->variant.file &&
            v.revision == ref->variant.revision) {
          ref->variant = v;
          ref->entry = e;
        }
      }
    }
    return ref;
  }
  const bool looks_like_path = spec.find('/') != std::string_view::npos || spec.ends_with(".gguf");
  if (looks_like_path) {
    std::error_code ec;
    const std::filesystem::path path(spec);
    if (!std::filesystem::is_regular_file(path, ec))
      return not_found("no such model file: " + std::string(spec));
    ModelRef ref;
    ref.kind = ModelRef::Kind::kLocalFile;
    ref.local_path = path;
    ref.name = path.stem().string();
    return ref;
  }
  std::string_view alias = spec, quantization;
  if (auto colon = spec.find(':'); colon != std::string_view::npos) {
    alias = spec.substr(0, colon);
    quantization = spec.substr(colon + 1);
  }
  const Entry* entry = catalog.find(alias);
  if (!entry) {
    std::string message = "unknown model \"" + std::string(alias) + "\"";
    auto close = catalog.suggestions(alias);
    if (!close.empty()) message += "; did you mean " + join(close, ", ") + "?";
    message += " (`hearth model list` shows every alias)";
    return not_found(message);
  }
  if (quantization.empty()) return pick_variant(*entry, machine);
  const Variant* v = entry->variant(quantization);
  if (!v) {
    std::vector<std::string> known;
    for (const auto& x : entry->variants) known.push_back(x.quantization);
    return not_found(entry->alias + " has no variant \"" + std::string(quantization) +
                     "\" (it has: " + join(known, ", ") + ")");
  }
  ModelRef ref;
  ref.kind = ModelRef::Kind::kHub;
  ref.variant = *v;
  ref.entry = *entry;
  ref.name = entry->alias;
  return ref;
}

std::string display_name(const ModelRef& ref) {
  if (ref.kind == ModelRef::Kind::kLocalFile) return ref.local_path.string();
  if (ref.entry) return ref.entry->alias + ":" + ref.variant.quantization;
  return "hf://" + ref.variant.repo + "/" + ref.variant.file;
}

}  // namespace hearth::catalog
