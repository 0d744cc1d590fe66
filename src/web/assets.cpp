#include "web/assets.h"

namespace hearth::web {

// Defined in the generated web_assets_data.cpp.
std::span<const Asset> embedded_assets();

std::span<const Asset> assets() {
  return embedded_assets();
}

const Asset* find_asset(std::string_view path) {
  // A handful of files: a linear scan is as fast as any map and needs no initialisation.
  for (const Asset& a : embedded_assets()) {
    if (a.path == path) return &a;
  }
  return nullptr;
}

}  // namespace hearth::web
