#!/usr/bin/env bash
# Installs what is missing, builds everything and runs every test with ctest, then the
# sanitizer step (deploy/sanitize.sh: the unit and integration tests again under
# AddressSanitizer and UndefinedBehaviorSanitizer in ./build-asan, then the fuzz targets
# for a bounded time). Prints how long each part took.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash deploy/install-deps.sh --test
t1=$(date +%s)
bash deploy/build.sh
t2=$(date +%s)
# No retries: a test that fails once fails the run. A test that hangs is cut at 120 s.
(cd build && ctest --output-on-failure --timeout 120 -j2)
t3=$(date +%s)
bash deploy/sanitize.sh
t4=$(date +%s)
echo "test.sh: dependencies $((t1 - t0)) s, build $((t2 - t1)) s, tests $((t3 - t2)) s," \
     "sanitizer step $((t4 - t3)) s, total $((t4 - t0)) s"
