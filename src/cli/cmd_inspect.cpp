// `hearth inspect -m MODEL`: metadata and tensor table of a GGUF file, for humans or --json.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "engine/gguf/gguf.h"

namespace hearth::cli {
namespace {

nlohmann::json to_json(const gguf::Value& v, size_t max_items) {
  if (v.is_array()) {
    nlohmann::json arr = nlohmann::json::array();
    for (size_t i = 0; i < v.size() && i < max_items; ++i) arr.push_back(to_json(v[i], max_items));
    if (v.size() > max_items) arr.push_back("... " + std::to_string(v.size()) + " items");
    return arr;
  }
  if (auto s = v.as_string()) return std::string(*s);
  if (auto b = v.as_bool()) return *b;
  if (v.is_float()) return *v.as_double();
  if (auto i = v.as_int()) return *i;
  if (auto u = v.as_uint()) return *u;
  return nullptr;
}

int run_inspect(const std::string& path, bool json, size_t max_items) {
  auto file = gguf::File::open(path);
  if (!file) {
    std::fprintf(stderr, "hearth inspect: %s\n", file.error().message.c_str());
    return 1;
  }
  nlohmann::json out;
  out["version"] = file->version();
  out["alignment"] = file->alignment();
  for (const auto& [key, value] : file->metadata())
    out["metadata"][std::string(key)] = to_json(value, max_items);
  out["tensors"] = nlohmann::json::array();
  for (const auto& t : file->tensors()) {
    out["tensors"].push_back({{"name", std::string(t.name)},
                              {"type", std::string(tensor_type_name(t.type))},
                              {"dims", t.dims},
                              {"bytes", t.n_bytes}});
  }
  if (json) {
    std::puts(out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  }
  std::printf("GGUF v%u, alignment %llu, %zu metadata keys, %zu tensors\n", file->version(),
              static_cast<unsigned long long>(file->alignment()), file->metadata().size(),
              file->tensors().size());
  for (const auto& [key, value] : out["metadata"].items()) {
    std::printf("  %-45s %s\n", key.c_str(),
                value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                    .substr(0, 120)
                    .c_str());
  }
  for (const auto& t : file->tensors()) {
    std::string dims;
    for (int64_t d : t.dims) dims += (dims.empty() ? "" : " x ") + std::to_string(d);
    std::printf("  %-40s %-6s %s\n", std::string(t.name).c_str(),
                std::string(tensor_type_name(t.type)).c_str(), dims.c_str());
  }
  return 0;
}

}  // namespace

void register_inspect(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("inspect", "Show the metadata and tensors of a GGUF file");
  auto path = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  auto max_items = std::make_shared<size_t>(8);
  cmd->add_option("-m,--model", *path, "GGUF file")->required();
  cmd->add_flag("--json", *json, "Print JSON");
  cmd->add_option("--max-items", *max_items, "Array items to show per key");
  cmd->callback([=, &exit_code] { exit_code = run_inspect(*path, *json, *max_items); });
}

}  // namespace hearth::cli
