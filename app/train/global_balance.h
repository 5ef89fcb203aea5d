// Global-batch load balancing (Qiu et al. 2025, "Demons in the Detail", §3): with
// moe.balance_scope: global, the Switch loss's per-expert top-1 shares f_e come from the whole
// optimizer step — every data-parallel rank and every accumulation micro-batch so far — instead
// of from each routing group, so a batch that is skewed by chance is not forced into balance.
// Only the counts travel (one all-reduce of E numbers per MoE layer and micro-batch); the gate
// term P_e stays local, so no gradient needs extra communication.
//
// With accumulation, micro-batch m of a step sees the counts of micro-batches 1..m of all ranks
// (its backward runs before the later ones exist); the last sees the whole global batch.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "moe/moe_layer.h"

namespace moevit {

class World;

class GlobalBalance {
 public:
  // Installs a count reducer on each layer; `world` sums over ranks (nullptr: one process).
  // The layers must not outlive this object's use in training (their reducers point here).
  GlobalBalance(const std::vector<MoeLayer>& layers, World* world);
  GlobalBalance(const GlobalBalance&) = delete;
  GlobalBalance& operator=(const GlobalBalance&) = delete;

  // A new optimizer step: counting starts again from zero.
  void start_step();
  // Per layer, the top-1 counts [E] of the step so far, summed over ranks (float64).
  const std::vector<at::Tensor>& step_counts() const { return step_counts_; }

 private:
  World* world_;
  std::vector<at::Tensor> step_counts_;
};

// moe.balance: bias. After each optimizer step: every bias-balanced layer's chosen-expert
// counts of the step (all its micro-batches) are summed over the ranks (`world`, nullptr: one
// process) and move its bias, so every replica holds the same bias. Every rank calls it.
void update_expert_biases(const std::vector<MoeLayer>& layers, World* world);

}  // namespace moevit
