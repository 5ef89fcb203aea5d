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
  if (routing.gate_scale != 1.0) combine_weight = combine_weight * routing.gate_scale;
  return make_token_choice_plan(expert_index, slot_index, gate, combine_weight, num_experts,
                                routing.capacity, routing.layout);
}

RouterOutput route_token_choice(const at::Tensor& logits, const TokenChoiceRouting& routing,
                                bool training) {
  const Gates gates = compute_gates(logits, routing.noise_std, training);
  RouterOutput output;
  output.plan = plan_token_choice(gates.probs, routing);
  at::Tensor global_top1_fraction;
  if (routing.count_reducer && routing.loss_weights.switch_balance != 0) {
    // Top-1 choices of every token here, as the per-group f_e counts them (first choice = the
    // plan's best expert).
    const at::Tensor local_counts =
        at::bincount(output.plan.expert_index.select(2, 0).reshape(-1), {}, gates.probs.size(-1))
            .to(at::kFloat);
    const at::Tensor global_counts = routing.count_reducer(local_counts);
    global_top1_fraction = global_counts / global_counts.sum().clamp_min(1);
  }
  output.aux = token_choice_aux_losses(gates, routing.experts_per_token, routing.loss_weights,
                                       global_top1_fraction);
  return output;
}

}  // namespace moevit
