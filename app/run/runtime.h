// Where and how a run computes: intra-op threads, device, precision. Set once in app/ and
// handed down; library code owns no such globals.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

#include "app/run/config.h"
#include "ops/autocast.h"

namespace moevit {

struct Runtime {
  torch::Device device = torch::kCPU;
  Precision precision = Precision::kFp32;  // after fallback: what actually runs
  int64_t threads = 1;
  std::string description;  // e.g. "cpu, 2 threads, bf16 (AMD EPYC 9R14)"
};

// Whether this CPU runs bf16 matrix products natively (AVX512-BF16 or AMX), from /proc/cpuinfo.
bool cpu_supports_bf16();
std::string cpu_model_name();

// Applies run.threads (0 = every core) and picks the device (auto: CUDA when this LibTorch
// has it and a GPU is present). bf16 on a CPU without native support falls back to fp32; the
// one warning line goes to `warning` (app/ prints it).
Runtime configure_runtime(const RunConfig& run, std::string* warning);

// RAII: bf16 autocast on the runtime's device for the scope (one training step, one eval
// batch), when its precision is bf16 (ops/autocast.h).
class AutocastScope : public Bf16AutocastScope {
 public:
  explicit AutocastScope(const Runtime& runtime)
      : Bf16AutocastScope(runtime.device.is_cuda(), runtime.precision == Precision::kBf16) {}
};

}  // namespace moevit
