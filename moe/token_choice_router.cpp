#include "moe/token_choice_router.h"

#include "moe/gating.h"
#include "moe/slot_assignment.h"

namespace moevit {

at::Tensor top_p_choices(const at::Tensor& gate, double top_p) {
  // A choice is taken while the gates before it have not yet reached p.
  const at::Tensor gates_before = gate.detach().cumsum(-1) - gate.detach();
  return gates_before < top_p;
}

DispatchPlan plan_token_choice(const at::Tensor& scores, const TokenChoiceRouting& routing) {
  const int64_t num_experts = scores.size(-1);
  // DeepSeek-V3 eq. 16: the bias only decides which experts are chosen.
  const at::Tensor selection = routing.expert_bias.defined()
                                   ? scores.detach() + routing.expert_bias.to(scores.scalar_type())
                                   : scores.detach();
  at::Tensor expert_index = std::get<1>(selection.topk(routing.experts_per_token, -1));  // [G,S,K]
  if (routing.expert_bias.defined()) {
    // The bias picks the set; within it the plan keeps its best-first order by the unbiased
    // score (top-p, BPR priorities and the statistics read the first choice as the best).
    const at::Tensor order =
        std::get<1>(scores.detach().gather(-1, expert_index).sort(-1, /*descending=*/true));
    expert_index = expert_index.gather(-1, order);
  }
  const at::Tensor gate = scores.gather(-1, expert_index);  // [G,S,K], with gradient
  at::Tensor chosen;                                        // undefined: every choice taken
  if (routing.top_p > 0 && routing.experts_per_token > 1) {
    // Top-p reads the gates as a distribution over the experts: sigmoid scores are divided by
    // their sum first (else one score above p would always stop a token at one expert).
    const at::Tensor share = routing.gate == GateFunction::kSigmoid
                                 ? gate / scores.sum(-1, /*keepdim=*/true).clamp_min(1e-20)
                                 : gate;
    chosen = top_p_choices(share, routing.top_p);
  }
  // BPR (V-MoE §3.1): a token's priority is its top-1 gate; highest claims slots first.
  at::Tensor priority_order;
  if (routing.batch_priority)
    priority_order = gate.detach().select(2, 0).argsort(/*dim=*/1, /*descending=*/true);
  const at::Tensor slot_index = assign_slots(expert_index, num_experts, priority_order, chosen);
  at::Tensor combine_weight = chosen.defined() ? gate * chosen.to(gate.scalar_type()) : gate;
  const bool renormalize =
      routing.renormalize_gates || routing.gate == GateFunction::kSigmoid;  // DeepSeek-V3 eq. 13
  if (renormalize && routing.experts_per_token > 1)
    combine_weight = combine_weight / combine_weight.sum(-1, /*keepdim=*/true).clamp_min(1e-9);
  if (routing.gate_scale != 1.0) combine_weight = combine_weight * routing.gate_scale;
  return make_token_choice_plan(expert_index, slot_index, gate, combine_weight, num_experts,
                                routing.capacity, routing.layout);
}

RouterOutput route_token_choice(const at::Tensor& logits, const TokenChoiceRouting& routing,
                                bool training) {
  const Gates gates = compute_gates(logits, routing.noise_std, training, routing.gate);
  RouterOutput output;
  output.plan = plan_token_choice(gates.scores, routing);
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
