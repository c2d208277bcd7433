#!/bin/bash
# Builds the libFuzzer targets (clang, ASan, UBSan) in build-fuzz and runs each for
# SECONDS (default 120). A crash leaves its input in build-fuzz/crashes/NAME/ and makes
# this script exit non-zero. Needs clang and libclang-rt-14-dev (Debian).
#
#   tests/fuzz/run.sh [SECONDS]
set -euo pipefail
# With BUILD_DIR set (deploy/sanitize.sh), that folder, already configured with
# PREAU_FUZZ=ON, is used instead.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_EACH=${1:-120}
if [ -n "${BUILD_DIR:-}" ]; then
  B=$(cd "$ROOT" && cd "$BUILD_DIR" && pwd)
else
  B=$ROOT/build-fuzz
  cmake -S "$ROOT" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DPREAU_FUZZ=ON \
    -DPREAU_BUILD_TESTS=OFF -DPREAU_BUILD_BENCH=OFF -DPREAU_AGENT_STATIC=OFF > /dev/null
fi
TARGETS=$(cd "$ROOT/tests/fuzz" && ls *_fuzz.cc | sed 's/\.cc$//')
ninja -C "$B" $TARGETS
status=0
for t in $TARGETS; do
  corpus=$B/corpus/$t
  mkdir -p "$corpus" "$B/crashes/$t"
  PREAU_FUZZ_WRITE_SEEDS=$corpus "$B/$t" -runs=0 > /dev/null 2>&1 || true  # seeds, if any
  echo "== $t ($SECONDS_EACH s)"
  if ! "$B/$t" -max_total_time="$SECONDS_EACH" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
       -artifact_prefix="$B/crashes/$t/" -print_final_stats=1 "$corpus" 2> "$B/$t.log"; then
    echo "   FAILED: see $B/$t.log and $B/crashes/$t/"
    status=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb|cov: " "$B/$t.log" | tail -3
done
exit $status
