#include "app/run/runtime.h"

#include <torch/cuda.h>
#include <torch/utils.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "ops/host_memory.h"

namespace moevit {

namespace {

std::string cpuinfo_field(const std::string& field) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind(field, 0) == 0) {
      const size_t colon = line.find(':');
      return colon == std::string::npos ? "" : line.substr(colon + 2);
    }
  return "";
}

}  // namespace

bool cpu_supports_bf16() {
  std::istringstream flags(" " + cpuinfo_field("flags") + " ");
  for (std::string flag; flags >> flag;)
    if (flag == "avx512_bf16" || flag == "amx_bf16") return true;
  return false;
}

std::string cpu_model_name() {
  const std::string name = cpuinfo_field("model name");
  return name.empty() ? "unknown CPU" : name;
}

Runtime configure_runtime(const RunConfig& run, std::string* warning) {
  keep_freed_host_memory();
  Runtime runtime;
  const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
  runtime.threads = run.threads > 0 ? run.threads : cores;
  torch::set_num_threads(static_cast<int>(runtime.threads));
  const bool cuda_available = torch::cuda::is_available();
  if (run.device == Device::kCuda && !cuda_available)
    throw std::invalid_argument(
        "run.device: expected a device this build can use, got 'cuda' (no CUDA GPU, or a "
        "CPU-only LibTorch)");
  if (run.device == Device::kCuda || (run.device == Device::kAuto && cuda_available))
    runtime.device = torch::Device(torch::kCUDA, 0);
  runtime.precision = run.precision;
  if (run.precision == Precision::kBf16 && runtime.device.is_cpu() && !cpu_supports_bf16()) {
    runtime.precision = Precision::kFp32;
    if (warning)
      *warning = "warning: run.precision bf16 needs a CPU with AVX512-BF16 or AMX; this " +
                 cpu_model_name() + " has neither, running fp32";
  }
  runtime.description = (runtime.device.is_cuda() ? std::string("cuda") : std::string("cpu")) +
                        ", " + std::to_string(runtime.threads) + " threads, " +
                        to_string(runtime.precision) + " (" +
                        (runtime.device.is_cuda() ? std::string("GPU") : cpu_model_name()) + ")";
  return runtime;
}

}  // namespace moevit
