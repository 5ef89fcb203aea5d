#include "moe/token_choice_router.h"

#include "moe/gating.h"
#include "moe/slot_assignment.h"

namespace moevit {

DispatchPlan plan_token_choice(const at::Tensor& probs, const TokenChoiceRouting& routing) {
  const int64_t num_experts = probs.size(-1);
  auto [gate, expert_index] = probs.topk(routing.experts_per_token, -1);  // [G,S,K] each
  // BPR (V-MoE §3.1): a token's priority is its top-1 gate; highest claims slots first.
  at::Tensor priority_order;
  if (routing.batch_priority)
    priority_order = gate.select(2, 0).argsort(/*dim=*/1, /*descending=*/true);
  const at::Tensor slot_index = assign_slots(expert_index, num_experts, priority_order);
  at::Tensor combine_weight = gate;
  if (routing.renormalize_gates && routing.experts_per_token > 1)
    combine_weight = gate / gate.sum(-1, /*keepdim=*/true).clamp_min(1e-9);
  return make_token_choice_plan(expert_index, slot_index, gate, combine_weight, num_experts,
                                routing.capacity);
}

RouterOutput route_token_choice(const at::Tensor& logits, const TokenChoiceRouting& routing,
                                bool training) {
  const Gates gates = compute_gates(logits, routing.noise_std, training);
  RouterOutput output;
  output.plan = plan_token_choice(gates.probs, routing);
  output.aux = token_choice_aux_losses(gates, routing.experts_per_token, routing.loss_weights);
  return output;
}

}  // namespace moevit
