#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh --test
bash deploy/build.sh
cd build
ctest --output-on-failure --timeout 600 -j2
