#!/usr/bin/env bash
# Fails when a project include crosses the layer rule of docs/architecture.md.
#
# Each module (a folder) lists the modules it may include besides itself. A module is an
# engine folder (engine/kernels), a top-level folder under src/ (server), or a public header
# (hearth/engine.h). Tests (*_test.cpp), tests/, bench/, fuzz/ and tools/ may include anything:
# they are not part of the libraries. Usage: scripts/check-layers.sh [REPO_ROOT]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# The public headers every library module may use. hearth/engine.h declares Session and is
# implemented by runtime/, so the engine folders below runtime may not include it.
public="hearth/status.h hearth/model_info.h hearth/memory_estimate.h hearth/version.h"
engine_core="engine/platform engine/tensor engine/gguf engine/kernels engine/tokenizer engine/chat engine/models engine/sampler"
engine_all="$engine_core engine/runtime hearth/engine.h"

declare -A allowed=(
  [include/hearth]="$public hearth/engine.h"
  [engine/platform]="hearth/status.h"
  [engine/tensor]="engine/platform $public"
  [engine/gguf]="engine/tensor engine/platform $public"
  [engine/kernels]="engine/tensor engine/platform $public"
  [engine/tokenizer]="engine/gguf engine/tensor engine/platform $public"
  [engine/chat]="engine/tokenizer engine/gguf engine/tensor engine/platform $public"
  [engine/models]="engine/kernels engine/tokenizer engine/gguf engine/tensor engine/platform $public"
  [engine/sampler]="engine/tokenizer engine/kernels engine/gguf engine/tensor engine/platform $public"
  [engine/runtime]="$engine_all $public"
  [http]="engine/platform $public"
  [catalog]="engine/platform engine/gguf engine/tensor $public"
  [web]="$public"
  [server]="$engine_all http catalog web $public"
  [router]="$engine_all http catalog server $public"
  [rag]="$engine_all http catalog server $public"
  [compare]="$public"
  [cli]="*"
)

# The module a path names, in $REPLY: "src/engine/models/x.cpp" -> engine/models,
# "src/server/a.h" -> server, "include/hearth/engine.h" -> include/hearth; an include
# "engine/models/x.h" -> engine/models, "hearth/engine.h" -> hearth/engine.h, "x.inc" -> ""
# (a file beside the includer). Pure bash: this runs for every include of the tree.
module_of_file() {
  local p=$1 rest
  case $p in
    include/hearth/*) REPLY=include/hearth ;;
    src/engine/*/*) rest=${p#src/engine/}; REPLY=engine/${rest%%/*} ;;
    src/*/*) rest=${p#src/}; REPLY=${rest%%/*} ;;
    *) REPLY="" ;;
  esac
}
module_of_include() {
  local inc=$1 rest
  case $inc in
    hearth/*) REPLY=$inc ;;
    engine/*/*) rest=${inc#engine/}; REPLY=engine/${rest%%/*} ;;
    */*) REPLY=${inc%%/*} ;;
    *) REPLY="" ;;
  esac
}

violations=0
checked=0
while IFS= read -r file; do
  case $file in *_test.cpp) continue ;; esac
  module_of_file "$file"
  mod=$REPLY
  [ -n "$mod" ] || continue
  rule=${allowed[$mod]-}
  if [ -z "$rule" ]; then
    echo "check-layers: $file: module '$mod' has no rule in scripts/check-layers.sh" >&2
    violations=$((violations + 1))
    continue
  fi
  [ "$rule" = "*" ] && continue
  checked=$((checked + 1))
  while IFS=: read -r line inc; do
    module_of_include "$inc"
    target=$REPLY
    [ -z "$target" ] && continue
    [ "$target" = "$mod" ] && continue
    [ "$mod" = include/hearth ] && [ "${target%%/*}" != hearth ] && target="outside"
    ok=0
    for a in $rule; do [ "$a" = "$target" ] && ok=1 && break; done
    if [ $ok -eq 0 ]; then
      echo "check-layers: $file:$line includes \"$inc\": $mod may not depend on $target" >&2
      violations=$((violations + 1))
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$file" |
           sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
done < <(git ls-files -co --exclude-standard src include | grep -E '\.(h|hpp|cpp|inc)$')

if [ $violations -gt 0 ]; then
  echo "check-layers: $violations include(s) cross the layer rule (docs/architecture.md)" >&2
  exit 1
fi
echo "check-layers: $checked files follow the layer rule"
