#!/usr/bin/env bash
# The sanitizer step meant for deploy/test.sh (not wired in yet: see README): builds ./build-asan with clang, AddressSanitizer,
# UndefinedBehaviorSanitizer and the libFuzzer targets (no benchmarks), runs the unit and
# integration tests under the sanitizers (any report fails the test), then fuzzes each
# target for FUZZ_SECONDS (default 15). Prints how long each part took.
#
#   deploy/sanitize.sh                 # build, test, fuzz
#   FUZZ_SECONDS=60 deploy/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-asan
t0=$(date +%s)
if [ ! -f "$B/build.ninja" ]; then
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DPREAU_FUZZ=ON -DPREAU_BUILD_BENCH=OFF
fi
ninja -C "$B"
t1=$(date +%s)
# halt_on_error and no recovery: the first report fails the test that made it.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
(cd "$B" && ctest --output-on-failure --timeout 300 -j2 -L 'unit|integration')
t2=$(date +%s)
BUILD_DIR=$B bash tests/fuzz/run.sh "${FUZZ_SECONDS:-15}"
t3=$(date +%s)
echo "sanitize: build $((t1 - t0)) s, tests $((t2 - t1)) s, fuzzing $((t3 - t2)) s"
