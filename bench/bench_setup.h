// What the core micro-benchmarks share: LibTorch on every core, and where and how the model
// benchmarks run. MOEVIT_BENCH_DEVICE=cuda puts models and inputs on the GPU; each timed
// iteration then ends with a synchronize, so the (real-time) Time column is the GPU's work, not
// the launch queue's. MOEVIT_BENCH_PRECISION=bf16 runs each iteration under bf16 autocast, one
// scope per iteration as the trainer has one per step. Defaults: cpu, fp32.
#pragma once

#include <benchmark/benchmark.h>
#include <torch/cuda.h>
#include <torch/types.h>
#include <torch/utils.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

#include "ops/autocast.h"
#include "ops/host_memory.h"

namespace moevit {

// LibTorch on every core, and the trainer's allocator policy (ops/host_memory.h): without it a
// benchmark would time page faults the trainer never pays.
inline void use_every_core() {
  static const bool once = [] {
    keep_freed_host_memory();
    torch::set_num_threads(static_cast<int>(std::thread::hardware_concurrency()));
    return true;
  }();
  (void)once;
}

struct BenchTarget {
  torch::Device device = torch::kCPU;
  bool bf16 = false;

  Bf16AutocastScope autocast() const { return Bf16AutocastScope(device.is_cuda(), bf16); }
  // Ends a timed iteration: waits for the GPU's queue (nothing to wait for on the CPU).
  void finish_iteration() const {
    if (device.is_cuda()) torch::cuda::synchronize();
  }
};

// Every core, and the target the environment names, shown as the run's `cuda` and `bf16`
// counters. nullopt, with the benchmark marked as failed, for a value this build cannot run.
inline std::optional<BenchTarget> bench_target(benchmark::State& state) {
  use_every_core();
  const auto read = [](const char* name, const char* fallback) {
    const char* value = std::getenv(name);
    return std::string(value && *value ? value : fallback);
  };
  const std::string device = read("MOEVIT_BENCH_DEVICE", "cpu");
  const std::string precision = read("MOEVIT_BENCH_PRECISION", "fp32");
  BenchTarget target;
  if (device == "cuda" && torch::cuda::is_available()) {
    target.device = torch::Device(torch::kCUDA, 0);
  } else if (device != "cpu") {
    state.SkipWithError(
        ("MOEVIT_BENCH_DEVICE: expected cpu or cuda (with a GPU), got '" + device + "'").c_str());
    return std::nullopt;
  }
  if (precision != "fp32" && precision != "bf16") {
    state.SkipWithError(
        ("MOEVIT_BENCH_PRECISION: expected fp32 or bf16, got '" + precision + "'").c_str());
    return std::nullopt;
  }
  target.bf16 = precision == "bf16";
  state.counters["cuda"] = target.device.is_cuda();
  state.counters["bf16"] = target.bf16;
  return target;
}

}  // namespace moevit
