#!/usr/bin/env bash
# Shows that scripts/check-layers.sh can fail: a tree with one crossing include must be
# refused (naming the file and the rule), the same tree without it accepted.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
cd "$tree"
git init -q .
mkdir -p src/engine/kernels src/engine/runtime src/engine/platform src/server include/hearth
printf '#include "hearth/status.h"\n' > include/hearth/engine.h
printf '#include "engine/platform/threads.h"\n#include "matmul.h"\n' > src/engine/kernels/matmul.cpp
printf '#include "engine/kernels/matmul.h"\n#include "hearth/engine.h"\n' > src/engine/runtime/session.cpp
printf '#include "engine/runtime/session.h"\n' > src/server/routes.cpp
printf '#include "engine/runtime/pool.h"\n' > src/engine/kernels/gemm_test.cpp  # tests may
if ! "$here/check-layers.sh" "$tree" >/dev/null; then
  echo "FAIL: a tree that follows the rule was refused" >&2
  exit 1
fi
printf '#include "engine/runtime/pool.h"\n' > src/engine/kernels/gemm.cpp
printf '#include "server/routes.h"\n' > src/engine/platform/files.cpp
if out=$("$here/check-layers.sh" "$tree" 2>&1); then
  echo "FAIL: two crossing includes were accepted" >&2
  exit 1
fi
grep -q 'src/engine/kernels/gemm.cpp:1 includes "engine/runtime/pool.h"' <<<"$out" || {
  echo "FAIL: kernels -> runtime not named: $out" >&2; exit 1; }
grep -q 'src/engine/platform/files.cpp:1 includes "server/routes.h"' <<<"$out" || {
  echo "FAIL: platform -> server not named: $out" >&2; exit 1; }
echo "check-layers self-test: passed"
