#!/usr/bin/env bash
# Configures and builds Préau into ./build (Ninja, ccache when present). Extra arguments
# are passed to ninja (targets).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
ninja -C build "$@"
