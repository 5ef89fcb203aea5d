#!/usr/bin/env bash
# The checks a CUDA machine can do that this project's CPU machines cannot, as one short script
# (a GPU is lent only now and then, for minutes):
#   1. ops/ + moe/ + vit/ and their tests build against that machine's LibTorch 2.x (a pip torch
#      with CUDA), without OpenCV, and every core test passes there, tests/vit/cuda_test.cpp
#      included (the model on the GPU equals the model on the CPU, fp32 and bf16 autocast);
#   2. the core micro-benchmarks (bench/, Google Benchmark) on the GPU, fp32 and bf16 autocast;
#   3. every other translation unit (app/, datasets/, their tests) compiles against that LibTorch,
#      with the headers the GPU image lacks (OpenCV, yaml-cpp, …) copied from this machine.
# Here, once: scripts/gpu-check.sh --pack   (copies those headers and GoogleTest to .devdeps/)
# There:      bash scripts/gpu-check.sh      (with .devdeps carried; logs under $OUT or /tmp)
#             MOEVIT_GPU_CHECK_SKIP=syntax,bench leaves out those parts.
set -uo pipefail
cd "$(dirname "$0")/.."

if [[ "${1:-}" == "--pack" ]]; then
  lib=/usr/lib/x86_64-linux-gnu
  for need in /usr/include/{opencv4,yaml-cpp,nlohmann,cxxopts.hpp,gtest,benchmark,gloo,zlib.h} \
    $lib/libgtest.a $lib/libbenchmark.so.1.7.1 $lib/cmake/GTest $lib/cmake/benchmark; do
    [[ -e $need ]] || {
      echo "gpu-check --pack: expected $need (run scripts/setup.sh first)" >&2
      exit 1
    }
  done
  rm -rf .devdeps && mkdir -p .devdeps/usr/include/x86_64-linux-gnu .devdeps/usr/lib/x86_64-linux-gnu/cmake
  cp -r /usr/include/{opencv4,yaml-cpp,nlohmann,cxxopts.hpp,gtest,gmock,benchmark,gloo,zlib.h,zconf.h} \
    .devdeps/usr/include/
  cp -r /usr/include/x86_64-linux-gnu/opencv4 .devdeps/usr/include/x86_64-linux-gnu/
  cp $lib/lib{gtest,gtest_main,gmock,gmock_main}.a .devdeps/usr/lib/x86_64-linux-gnu/
  cp -a $lib/libbenchmark{.so,.so.1debian,.so.1.7.1,_main.a} .devdeps/usr/lib/x86_64-linux-gnu/
  cp -r $lib/cmake/{GTest,benchmark} .devdeps/usr/lib/x86_64-linux-gnu/cmake/
  grep -qx '/.devdeps/' "$(git rev-parse --git-dir)/info/exclude" ||
    echo '/.devdeps/' >>"$(git rev-parse --git-dir)/info/exclude"
  du -sh .devdeps
  exit 0
fi

[[ -d .devdeps/usr/include && -d .devdeps/usr/lib ]] || {
  echo "gpu-check: expected .devdeps/ (make it with scripts/gpu-check.sh --pack here, carry it there)" >&2
  exit 1
}
python3 -c 'import torch' 2>/dev/null || {
  echo "gpu-check: expected a python3 with torch (its LibTorch is what this builds against)" >&2
  exit 1
}
logs=${OUT:-/tmp/gpu-check}
mkdir -p "$logs"
# Each step's exit status goes to the summary; the script exits 1 if any step failed.
failed=0
record() {
  echo "$1 rc=$2" | tee -a "$logs/summary.txt"
  [[ $2 == 0 ]] || failed=1
}
build=/tmp/moevit-cuda
jobs=$(nproc)
deps=$PWD/.devdeps/usr
torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")' | tee "$logs/summary.txt"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee -a "$logs/summary.txt"

echo "== 1. core build + tests" | tee -a "$logs/summary.txt"
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
skip=${MOEVIT_GPU_CHECK_SKIP:-}
cmake -S . -B $build -G Ninja -DMOEVIT_WITH_OPENCV=OFF -DCMAKE_PREFIX_PATH="$torch_prefix" \
  -DGTest_DIR=$deps/lib/x86_64-linux-gnu/cmake/GTest \
  -Dbenchmark_DIR=$deps/lib/x86_64-linux-gnu/cmake/benchmark \
  >"$logs/configure.log" 2>&1
record configure $?
cmake --build $build -j "$jobs" -- -k 0 >"$logs/build.log" 2>&1
record build $?
grep -E 'error|Error' "$logs/build.log" | head -20 | tee -a "$logs/summary.txt"
(cd $build && OMP_NUM_THREADS=2 ctest -j 8 --output-on-failure >"$logs/ctest.log" 2>&1)
record ctest $?
tail -n 15 "$logs/ctest.log" | tee -a "$logs/summary.txt"
$build/moevit_core_tests --gtest_filter='*OnCuda*' >"$logs/cuda_test.log" 2>&1
record "cuda tests" $?
grep -E '^\[ +(OK|FAILED|SKIPPED) +\]|Failure|max \|' "$logs/cuda_test.log" | head -40 |
  tee -a "$logs/summary.txt"

if [[ $skip != *bench* ]]; then
  echo "== 2. micro-benchmarks on the GPU" | tee -a "$logs/summary.txt"
  export LD_LIBRARY_PATH=$deps/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  for precision in fp32 bf16; do
    MOEVIT_BENCH_DEVICE=cuda MOEVIT_BENCH_PRECISION=$precision $build/moevit_bench \
      --benchmark_filter='TrainStep|Inference|DenseFfn|MoeLayer|Router' \
      >"$logs/bench-cuda-$precision.txt" 2>&1
    record "bench $precision" $?
    grep -E '^BM_|rror' "$logs/bench-cuda-$precision.txt" | tee -a "$logs/summary.txt"
  done
fi

[[ $skip == *syntax* ]] && exit $failed
echo "== 3. every other translation unit against this LibTorch" | tee -a "$logs/summary.txt"
# Each file is compiled (syntax only) with the flags of a core source (LibTorch's includes and
# definitions, the language standard) plus the headers carried from Debian, searched after the
# LibTorch's own.
python3 - "$build/compile_commands.json" "$deps" "$jobs" >"$logs/syntax.log" 2>&1 <<'EOF'
import concurrent.futures, glob, json, shlex, subprocess, sys
commands, deps, jobs = json.load(open(sys.argv[1])), sys.argv[2], int(sys.argv[3])
command = next(c for c in commands if c["file"].endswith("moe/gating.cpp"))
words = shlex.split(command["command"])
compiler, flags, skip = words[0], [], False
for word in words[1:]:
    if skip:
        skip = False
    elif word in ("-o", "-c", "-include"):
        skip = True
    elif word != "-Winvalid-pch" and not word.endswith("gating.cpp"):
        flags.append(word)
flags += ['-DMOEVIT_SOURCE_DIR="/x"',
          '-DMOEVIT_BINARY="/x"', "-fsyntax-only"]
for extra in ("include", "include/opencv4", "include/x86_64-linux-gnu/opencv4"):
    flags += ["-idirafter", f"{deps}/{extra}"]
files = sorted(sum((glob.glob(g, recursive=True) for g in ("app/**/*.cpp", "datasets/*.cpp",
                    "tests/app/**/*.cpp", "tests/datasets/*.cpp", "tests/support/*.cpp")), []))
def check(path):
    return path, subprocess.run([compiler, *flags, path], capture_output=True, text=True)
with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
    for path, result in pool.map(check, files):
        print(("ok     " if result.returncode == 0 else "FAILED ") + path)
        if result.returncode:
            print(result.stderr[:4000])
EOF
echo "translation units: $(grep -c -E '^(ok|FAILED)' "$logs/syntax.log"), failing: $(grep -c '^FAILED' "$logs/syntax.log")" |
  tee -a "$logs/summary.txt"
grep -E '^FAILED|error:' "$logs/syntax.log" | head -40 | tee -a "$logs/summary.txt"
grep -q '^FAILED' "$logs/syntax.log" && failed=1
exit $failed
