#pragma once

#include <ATen/ATen.h>

namespace moevit {

// Position of each (token, choice) in its expert's buffer within its group, as vmoe
// `_get_top_experts_per_item_common`: choices are taken choice-major (every token's first
// choice before any second choice), and within a choice in `priority_order` (token order when
// undefined; descending top-1 gate for BPR). Positions ≥ capacity mean dropped.
//   expert_index [G,S,K] int64; priority_order [G,S] int64 permutation or undefined.
//   chosen [G,S,K] bool or undefined (all chosen): a choice not taken (top-p stopped before it)
//   claims no slot and gets slot -1.
//   returns [G,S,K] int64 slot index (0-based count of earlier claims on that expert).
at::Tensor assign_slots(const at::Tensor& expert_index, int64_t num_experts,
                        const at::Tensor& priority_order = at::Tensor(),
                        const at::Tensor& chosen = at::Tensor());

// The same slots from tensor operations (a one-hot running count), for tensors off the CPU,
// where assign_slots's per-group loop cannot run; on any device, equal to assign_slots.
at::Tensor assign_slots_by_tensor_ops(const at::Tensor& expert_index, int64_t num_experts,
                                      const at::Tensor& priority_order = at::Tensor(),
                                      const at::Tensor& chosen = at::Tensor());

}  // namespace moevit
