#include "ops/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace moevit {

namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)

bool cpu_enabled() {
  return at::autocast::is_autocast_enabled(at::kCPU);
}

void set_bf16_autocast(bool cuda, bool enabled) {
  const at::DeviceType type = cuda ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_enabled(type, enabled);
  if (enabled) at::autocast::set_autocast_dtype(type, at::kBFloat16);
}

#else

bool cpu_enabled() {
  return at::autocast::is_cpu_enabled();
}

void set_bf16_autocast(bool cuda, bool enabled) {
  if (cuda) {
    at::autocast::set_enabled(enabled);
    if (enabled) at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
  } else {
    at::autocast::set_cpu_enabled(enabled);
    if (enabled) at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
}

#endif

}  // namespace

bool cpu_autocast_enabled() {
  return cpu_enabled();
}

Bf16AutocastScope::Bf16AutocastScope(bool cuda, bool enabled) : cuda_(cuda), enabled_(enabled) {
  if (enabled_) set_bf16_autocast(cuda_, true);
}

Bf16AutocastScope::~Bf16AutocastScope() {
  if (!enabled_) return;
  set_bf16_autocast(cuda_, false);
  at::autocast::clear_cache();
}

}  // namespace moevit
