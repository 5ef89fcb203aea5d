#!/usr/bin/env bash
# make sanitize: builds moevit and its tests with AddressSanitizer + UBSan into a build folder of
# its own and runs the suite there (docs/reliability.md, "Sanitizers").
#   scripts/sanitize.sh BUILD_DIR [CTEST_ARGS...]   e.g. scripts/sanitize.sh build-sanitize -R Zip
# LibTorch, OpenCV and the other Debian libraries are not instrumented: ASan checks our code's
# memory accesses, and their reports that are not ours are suppressed in sanitizers/, each
# entry with its reason.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-sanitize}
shift $(($# < 1 ? $# : 1))
jobs=${JOBS:-$(nproc)}

./scripts/setup.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOEVIT_SANITIZE=ON \
  -DMOEVIT_BUILD_BENCH=OFF
cmake --build "$build" -j "$jobs"

here=$PWD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/sanitizers/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-suppressions=$here/sanitizers/ubsan.supp:print_stacktrace=1:halt_on_error=1}
cd "$build"
OMP_NUM_THREADS=1 ctest --output-on-failure -j "$jobs" --timeout 900 "$@"
