#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh --test
bash deploy/build.sh
cd build
# No retries: a test that fails once fails the run. A test that hangs is cut at 120 s.
ctest --output-on-failure --timeout 120 -j2
