// hearth's version, from the one place it is set: CMake's project(VERSION). Every place that
// shows it (`hearth --version`, the API's system_fingerprint, the downloader's User-Agent)
// asks here. Defined in a file the build generates (src/catalog/version.cpp.in), compiled into
// hearth_catalog, the lowest library that everything showing it links. Thread-safe.
#pragma once

#include <string_view>

namespace hearth {

std::string_view version();  // e.g. "0.1.0"

}  // namespace hearth
