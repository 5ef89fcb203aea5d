// Expert Choice routing (Zhou et al. 2022, arXiv 2202.09368; vmoe's
// NoisyTopItemsPerExpertRouter): within each routing group every expert takes its C best tokens
// by gate, so loads are balanced by construction and no balance loss is needed. A token chosen
// by no expert rides the residual; one chosen by several gets all their outputs, each weighted
// by its gate.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "moe/moe_options.h"
#include "moe/router_output.h"

namespace moevit {

struct ExpertChoiceRouting {
  int64_t capacity = 1;  // C, tokens each expert takes per group (compute_capacity with k = 1)
  double gate_scale = 1.0;
  double noise_std = 0.0;  // training noise std · E on the logits (vmoe convention)
  GateFunction gate = GateFunction::kSoftmax;
  double z_loss_weight = 0.0;  // the only auxiliary loss that applies
  RowLayout layout = RowLayout::kPadded;
};

// scores [G,S,E] → a plan in token-choice form with K = E: for each token its experts in
// descending gate order; slot_index is the token's rank among the expert's picks when the
// expert took it (< C), else -1. Ties go to the lower token index. combine = gate · gate_scale
// where taken.
DispatchPlan plan_expert_choice(const at::Tensor& scores, const ExpertChoiceRouting& routing);

// logits [G,S,E] → plan + aux losses (only the z-loss, if weighted).
RouterOutput route_expert_choice(const at::Tensor& logits, const ExpertChoiceRouting& routing,
                                 bool training);

}  // namespace moevit
