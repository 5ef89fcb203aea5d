#!/usr/bin/env bash
# make fuzz: builds the fuzz targets of fuzz/ with clang, libFuzzer, ASan and UBSan in a build
# folder of their own, then runs each for SECONDS seconds from a copy of its seed corpus, one
# after the other (docs/reliability.md, "Fuzzing").
#   scripts/fuzz.sh SECONDS BUILD_DIR [TARGET...]     e.g. scripts/fuzz.sh 60 build-fuzz config
# What the fuzzer finds stays under BUILD_DIR, never in the repo's fuzz/corpus:
#   BUILD_DIR/corpus/<target>/    the seeds, then every input that reached new code
#   BUILD_DIR/crashes/<target>/   crash-*, leak-*, oom-*, timeout-*: one file per finding
#   BUILD_DIR/logs/<target>.log   libFuzzer's output
# FUZZ_FLAGS adds libFuzzer flags (e.g. FUZZ_FLAGS=-fork=2, or -detect_leaks=0 while a leak in a
# library not ours is reported upstream). Exits 1 when any target had a finding.
set -euo pipefail
seconds=${1:-60}
build=${2:-build-fuzz}
shift $(($# < 2 ? $# : 2))
jobs=${JOBS:-$(nproc)}

./scripts/setup.sh --fuzz
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DMOEVIT_FUZZ=ON -DMOEVIT_BUILD_TESTS=OFF -DMOEVIT_BUILD_BENCH=OFF
cmake --build "$build" -j "$jobs" --target moevit_fuzz

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in fuzz/fuzz_*.cpp; do
    name=$(basename "$source" .cpp)
    targets+=("${name#fuzz_}")
  done
fi

# Limits of one input. A seed is at most a few KB; 64 KB leaves the fuzzer room to grow them.
# No input that small has a reason to allocate 1 GB at once (-malloc_limit_mb): one that does
# is an allocation bomb. Intra-op threads would only add noise to a single-input run.
libfuzzer_flags=(-max_total_time="$seconds" -timeout=10 -max_len=65536 -malloc_limit_mb=1024
  -rss_limit_mb=4096 -print_final_stats=1)
export OMP_NUM_THREADS=1
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# A value of libFuzzer's final statistics in a log, e.g. number_of_executed_units.
final_stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -1; }
count_files() { find "$1" -type f | wc -l; }

mkdir -p "$build/logs"
rows=()
findings=0
failures=0
for target in "${targets[@]}"; do
  corpus=$build/corpus/$target
  crashes=$build/crashes/$target
  log=$build/logs/$target.log
  mkdir -p "$corpus" "$crashes"
  cp -f fuzz/corpus/"$target"/* "$corpus"/  # the repo's seeds; earlier runs' finds stay
  echo "fuzz: $target for ${seconds}s (log: $log)"
  found_before=$(count_files "$crashes")
  status=0
  # shellcheck disable=SC2086  # FUZZ_FLAGS is a list of flags
  "$build/fuzz_$target" "${libfuzzer_flags[@]}" -artifact_prefix="$crashes/" ${FUZZ_FLAGS:-} \
    "$corpus" >"$log" 2>&1 || status=$?
  executions=$(final_stat "$log" number_of_executed_units)
  per_second=$(final_stat "$log" average_exec_per_sec)
  found=$(($(count_files "$crashes") - found_before))
  findings=$((findings + found))
  if [ "$status" -ne 0 ]; then failures=$((failures + 1)); fi
  rows+=("$(printf '%-14s %12s %8s %8s %8s %6s' "$target" "${executions:-?}" "${per_second:-?}" \
    "$(count_files "$corpus")" "$found" "$status")")
done

echo
printf '%-14s %12s %8s %8s %8s %6s\n' target executions exec/s corpus findings exit
printf '%s\n' "${rows[@]}"
if [ "$findings" -gt 0 ]; then
  echo "fuzz: $findings finding(s) in $build/crashes/: reproduce one with" \
    "$build/fuzz_<target> FILE; once fixed, copy it into fuzz/corpus/<target>/ (docs/reliability.md)"
  exit 1
fi
if [ "$failures" -gt 0 ]; then
  echo "fuzz: $failures target(s) exited non-zero without a finding: see $build/logs/"
  exit 1
fi
