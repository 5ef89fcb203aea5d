#include "moe/slot_assignment.h"

namespace moevit {

at::Tensor assign_slots(const at::Tensor& expert_index, int64_t num_experts,
                        const at::Tensor& priority_order) {
  const int64_t groups = expert_index.size(0), tokens = expert_index.size(1),
                choices = expert_index.size(2);
  const bool prioritised = priority_order.defined();
  at::Tensor order_expanded;
  at::Tensor claims = expert_index;  // [G,S,K] in claiming order
  if (prioritised) {
    order_expanded = priority_order.unsqueeze(2).expand({groups, tokens, choices});
    claims = expert_index.gather(1, order_expanded);
  }
  // Choice-major: [G,K,S] flattened, so the cumulative count sees all first choices first.
  const at::Tensor claims_flat = claims.transpose(1, 2).reshape({groups, choices * tokens});
  // Running count per expert: [G, K·S, E] one-hot of experts (not of slots), summed along the
  // claims; each claim's slot is the count on its expert before it.
  const at::Tensor running_count =
      at::one_hot(claims_flat, num_experts).to(at::kInt).cumsum(1, at::kInt);
  const at::Tensor slot_flat =
      running_count.gather(2, claims_flat.unsqueeze(2)).squeeze(2).to(at::kLong) - 1;
  at::Tensor slot = slot_flat.reshape({groups, choices, tokens}).transpose(1, 2);  // [G,S,K]
  if (!prioritised) return slot.contiguous();
  // Undo the priority permutation: slot of the token at priority rank r goes back to order[r].
  return at::empty_like(slot, slot.options().memory_format(at::MemoryFormat::Contiguous))
      .scatter_(1, order_expanded, slot);
}

}  // namespace moevit
