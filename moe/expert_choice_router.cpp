#include "moe/expert_choice_router.h"

#include "moe/aux_losses.h"
#include "moe/gating.h"

namespace moevit {

DispatchPlan plan_expert_choice(const at::Tensor& scores, const ExpertChoiceRouting& routing) {
  TORCH_CHECK(scores.dim() == 3, "plan_expert_choice: expected scores [G,S,E], got ",
              scores.sizes());
  const int64_t tokens = scores.size(1), num_experts = scores.size(2);
  const at::Tensor detached_scores = scores.detach();
  // Each expert's tokens, best first [G,E,S]; the stable sort keeps ties in token order.
  const at::Tensor tokens_by_rank = std::get<1>(
      detached_scores.transpose(1, 2).sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true));
  // Inverse permutation: the rank of each token in each expert's order, [G,S,E].
  const at::Tensor rank_of_token =
      at::empty_like(tokens_by_rank)
          .scatter_(-1, tokens_by_rank,
                    at::arange(tokens, tokens_by_rank.options()).expand_as(tokens_by_rank))
          .transpose(1, 2);
  // The plan's best-first convention: each token's experts in descending gate order.
  const at::Tensor expert_index = std::get<1>(
      detached_scores.sort(/*stable=*/true, /*dim=*/-1, /*descending=*/true));  // [G,S,E]
  const at::Tensor gate = scores.gather(-1, expert_index);
  const at::Tensor rank = rank_of_token.gather(-1, expert_index);
  const at::Tensor slot_index =
      at::where(rank < routing.capacity, rank, at::full({}, -1, rank.options()));
  const at::Tensor combine_weight = routing.gate_scale != 1.0 ? gate * routing.gate_scale : gate;
  return make_token_choice_plan(expert_index, slot_index, gate, combine_weight, num_experts,
                                routing.capacity, routing.layout);
}

RouterOutput route_expert_choice(const at::Tensor& logits, const ExpertChoiceRouting& routing,
                                 bool training) {
  const Gates gates = compute_gates(logits, routing.noise_std, training, routing.gate);
  RouterOutput output;
  output.plan = plan_expert_choice(gates.scores, routing);
  AuxLossWeights weights;
  weights.importance = weights.load = weights.switch_balance = 0;
  weights.z_loss = routing.z_loss_weight;
  output.aux = token_choice_aux_losses(gates, /*experts_per_token=*/1, weights);
  return output;
}

}  // namespace moevit
