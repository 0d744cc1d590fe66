#!/usr/bin/env bash
# Installs the Debian 12 packages hearth builds and tests with. Safe to run again: it only
# calls apt-get when something is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libpcre2-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libcurl4-openssl-dev libssl-dev
  libasio-dev openssl
  libtomlplusplus-dev libsqlite3-dev
  libpoppler-cpp-dev libgumbo-dev libhnswlib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-16 libclang-rt-16-dev
  chromium
  emscripten
)
# chromium: the web app's browser tests (tests/e2e/web_app.test.mjs, through puppeteer-core,
# which never downloads a browser of its own).
# emscripten: the engine's WebAssembly build (make test-wasm, docs/wasm.md); Debian ships its
# system libraries prebuilt.
# Node.js runs the end-to-end tests (the official openai client); any Node >= 18 will do.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
