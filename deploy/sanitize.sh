#!/usr/bin/env bash
# The sanitizer step, the last of deploy/test.sh: builds ./build-asan with clang,
# AddressSanitizer, UndefinedBehaviorSanitizer and the libFuzzer targets (target
# preau_sanitized: the tests and fuzz targets, no benchmarks), runs the unit and
# integration tests under the sanitizers (any report fails the test; those labelled
# not_sanitized are left out, see CMakeLists.txt for why), then fuzzes each target for
# FUZZ_SECONDS (default 15). Prints how long each part took.
#
#   deploy/sanitize.sh                 # build, test, fuzz
#   FUZZ_SECONDS=60 deploy/sanitize.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B=build-asan
t0=$(date +%s)
if [ ! -f "$B/build.ninja" ]; then
  # -O1 and line tables only: what ASan's reports need, and much cheaper to compile
  # than -O2 -g on gRPC's and protobuf's headers (CI has 2 cores).
  cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" \
    -DPREAU_FUZZ=ON -DPREAU_BUILD_BENCH=OFF
fi
ninja -C "$B" preau_sanitized
t1=$(date +%s)
# halt_on_error and no recovery: the first report fails the test that made it.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_stack_use_after_return=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0
# Reports with files and lines (llvm-symbolizer comes with Debian's llvm package).
if [ -x /usr/lib/llvm-14/bin/llvm-symbolizer ]; then
  export ASAN_SYMBOLIZER_PATH=/usr/lib/llvm-14/bin/llvm-symbolizer
fi
(cd "$B" && ctest --output-on-failure --timeout 300 -j2 -L 'unit|integration' -LE not_sanitized)
t2=$(date +%s)
BUILD_DIR=$B bash tests/fuzz/run.sh "${FUZZ_SECONDS:-15}"
t3=$(date +%s)
echo "sanitize: build $((t1 - t0)) s, tests $((t2 - t1)) s, fuzzing $((t3 - t2)) s"
