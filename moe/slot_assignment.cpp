#include "moe/slot_assignment.h"

#include <algorithm>
#include <vector>

namespace moevit {

namespace {

// assign_slots as one pass per group: a running count per expert, claims visited choice-major
// and in priority order. On CPU this replaces the ~10 small ATen ops of the tensor version
// (assign_slots_by_tensor_ops: gather, one-hot, cumsum, gather, scatter), each a dispatch of
// its own.
at::Tensor assign_slots_cpu(const at::Tensor& expert_index, int64_t num_experts,
                            const at::Tensor& priority_order, const at::Tensor& chosen) {
  const int64_t groups = expert_index.size(0), tokens = expert_index.size(1),
                choices = expert_index.size(2);
  const at::Tensor experts = expert_index.contiguous();
  const at::Tensor order = priority_order.defined() ? priority_order.contiguous() : at::Tensor();
  const at::Tensor taken = chosen.defined() ? chosen.to(at::kBool).contiguous() : at::Tensor();
  const bool* is_taken = taken.defined() ? taken.data_ptr<bool>() : nullptr;
  at::Tensor slot = at::empty_like(experts);
  const int64_t* expert = experts.data_ptr<int64_t>();
  const int64_t* rank_to_token = order.defined() ? order.data_ptr<int64_t>() : nullptr;
  int64_t* slot_out = slot.data_ptr<int64_t>();
  std::vector<int64_t> claimed(num_experts);
  for (int64_t group = 0; group < groups; ++group) {
    std::fill(claimed.begin(), claimed.end(), 0);
    const int64_t base = group * tokens;
    for (int64_t choice = 0; choice < choices; ++choice)
      for (int64_t rank = 0; rank < tokens; ++rank) {
        const int64_t token = rank_to_token ? rank_to_token[base + rank] : rank;
        const int64_t at = (base + token) * choices + choice;
        if (is_taken && !is_taken[at]) {
          slot_out[at] = -1;
          continue;
        }
        const int64_t claimed_expert = expert[at];
        TORCH_CHECK(claimed_expert >= 0 && claimed_expert < num_experts,
                    "assign_slots: expert index ", claimed_expert, " outside [0, ", num_experts,
                    ")");
        slot_out[at] = claimed[claimed_expert]++;
      }
  }
  return slot;
}

}  // namespace

at::Tensor assign_slots(const at::Tensor& expert_index, int64_t num_experts,
                        const at::Tensor& priority_order, const at::Tensor& chosen) {
  if (expert_index.is_cpu())
    return assign_slots_cpu(expert_index, num_experts, priority_order, chosen);
  return assign_slots_by_tensor_ops(expert_index, num_experts, priority_order, chosen);
}

at::Tensor assign_slots_by_tensor_ops(const at::Tensor& expert_index, int64_t num_experts,
                                      const at::Tensor& priority_order, const at::Tensor& chosen) {
  if (chosen.defined()) {
    // A choice not taken claims a slot of a phantom expert E, then gets slot -1.
    const at::Tensor taken = chosen.to(at::kBool);
    const at::Tensor claims =
        at::where(taken, expert_index, at::full({}, num_experts, expert_index.options()));
    const at::Tensor slot = assign_slots_by_tensor_ops(claims, num_experts + 1, priority_order);
    return at::where(taken, slot, at::full({}, -1, slot.options()));
  }
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
