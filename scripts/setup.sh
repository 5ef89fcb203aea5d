#!/usr/bin/env bash
# Installs the Debian 12 packages moevit needs, only those that are missing.
# libopenblas0-openmp matters: without it Debian's LibTorch falls back to the reference BLAS
# and matrix products run ~16x slower.
#   scripts/setup.sh          what make build / test / demo need
#   scripts/setup.sh --fuzz   that, and clang with libFuzzer for make fuzz (docs/reliability.md)
set -euo pipefail
packages=(
  build-essential cmake ccache
  libtorch-dev libopenblas0-openmp
  libopencv-dev libcxxopts-dev libgtest-dev libgmock-dev libbenchmark-dev
  libyaml-cpp-dev nlohmann-json3-dev libgloo-dev zlib1g-dev
  dataset-fashion-mnist
)
if [ "${1:-}" = "--fuzz" ]; then
  # clang 14; libFuzzer and the sanitizer runtimes (libclang_rt.fuzzer-x86_64.a) are in
  # libclang-rt-14-dev, which clang-14 only recommends.
  packages+=(clang libclang-rt-14-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
$sudo_cmd apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
