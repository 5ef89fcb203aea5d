// What every core micro-benchmark sets up first: LibTorch on every core, and where and how it
// runs. MOEVIT_BENCH_DEVICE=cuda puts models and inputs on the GPU (each timed iteration then
// ends with a synchronize, so the time is the GPU's, not the launch queue's);
// MOEVIT_BENCH_PRECISION=bf16 runs the benchmark under bf16 autocast. Defaults: cpu, fp32.
#pragma once

#include <benchmark/benchmark.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <cstdlib>
#include <string>
#include <thread>

#include "moe/cpu_autocast.h"

namespace moevit {

inline std::string bench_env(const char* name, const char* fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

inline torch::Device bench_device() {
  static const torch::Device device = [] {
    const std::string name = bench_env("MOEVIT_BENCH_DEVICE", "cpu");
    if (name == "cpu") return torch::Device(torch::kCPU);
    if (name == "cuda" && torch::cuda::is_available()) return torch::Device(torch::kCUDA, 0);
    std::fprintf(stderr, "MOEVIT_BENCH_DEVICE: expected cpu or cuda (with a GPU), got '%s'\n",
                 name.c_str());
    std::exit(2);
  }();
  return device;
}

// Ends a timed iteration: waits for the GPU's queue to drain (nothing to wait for on the CPU).
inline void finish_iteration() {
  if (bench_device().is_cuda()) torch::cuda::synchronize();
}

// Call at the top of each benchmark: threads, and autocast for this (the benchmark's) thread.
// Labels the run with device and precision.
inline void prepare_bench(benchmark::State& state) {
  static const bool once = [] {
    torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
    return true;
  }();
  (void)once;
  const bool bf16 = bench_env("MOEVIT_BENCH_PRECISION", "fp32") == "bf16";
  set_bf16_autocast(bench_device().is_cuda(), bf16);
  state.counters["cuda"] = bench_device().is_cuda();
  state.counters["bf16"] = bf16;
}

}  // namespace moevit
