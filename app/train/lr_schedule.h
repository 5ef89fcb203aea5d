#pragma once

#include <cstdint>

namespace moevit {

// Linear warmup to the peak, then cosine decay to min_lr (timm's cosine scheduler, per step).
struct LrSchedule {
  double peak_lr = 1e-3;
  double min_lr = 1e-5;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;

  // Learning rate for optimisation step `step` (0-based).
  double at(int64_t step) const;
};

}  // namespace moevit
