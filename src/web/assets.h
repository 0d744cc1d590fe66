// The web app's files (web/, bundled by esbuild), embedded in the binary at build time by
// cmake/embed_web_assets.cmake, so `hearth serve` needs nothing beside itself. A build
// without node and without a prebuilt dist (HEARTH_WEB_DIST) embeds none: built_with_ui()
// is false and the server says how to get the app (docs/web.md).
//
// Plain data, no I/O: safe from any thread.
#pragma once

#include <span>
#include <string_view>

namespace hearth::web {

struct Asset {
  std::string_view path;          // relative to the dist folder: "index.html", "assets/app.js"
  std::string_view content_type;  // from the extension, with charset for text
  std::string_view bytes;
  std::string_view etag;  // quoted, from the content's SHA-256: "\"1a2b...\""
};

// Every embedded file; empty when the app was not built in.
std::span<const Asset> assets();
// The asset at `path` (as in Asset::path), or null.
const Asset* find_asset(std::string_view path);
inline bool built_with_ui() {
  return find_asset("index.html") != nullptr;
}

}  // namespace hearth::web
