// bf16 autocast for the CPU and CUDA devices, behind one switch: the API's names changed in
// LibTorch 2.4 (is_autocast_enabled(device), set_autocast_enabled(device, on)); 1.13 has
// is_cpu_enabled(), set_enabled() for CUDA, and so on.
#pragma once

namespace moevit {

// Whether CPU autocast is on in this thread (the MoE layer then takes its bf16 paths).
bool cpu_autocast_enabled();

// RAII: bf16 autocast on the CPU or on CUDA devices, in this thread, for the scope, when
// `enabled` (`run.precision: bf16`). At its end autocast is off again and its cache of bf16
// weight copies is dropped: the optimizer changes the weights between scopes, so one scope per
// step. The router's softmax/top-k and the losses stay float32 (moe/gating.cpp casts).
class Bf16AutocastScope {
 public:
  Bf16AutocastScope(bool cuda, bool enabled);
  ~Bf16AutocastScope();
  Bf16AutocastScope(const Bf16AutocastScope&) = delete;
  Bf16AutocastScope& operator=(const Bf16AutocastScope&) = delete;

 private:
  bool cuda_ = false;
  bool enabled_ = false;
};

}  // namespace moevit
