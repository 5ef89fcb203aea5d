#include "moe/dispatch_plan.h"

#include <c10/util/Exception.h>

#include "moe/small_matmul.h"

namespace moevit {

namespace {

DispatchPlan plan_shape(DispatchPlan::Kind kind, int64_t groups, int64_t tokens_per_group,
                        int64_t experts, int64_t capacity) {
  DispatchPlan plan;
  plan.kind = kind;
  plan.num_groups = groups;
  plan.tokens_per_group = tokens_per_group;
  plan.num_experts = experts;
  plan.capacity = capacity;
  return plan;
}

}  // namespace

DispatchPlan make_token_choice_plan(const at::Tensor& expert_index, const at::Tensor& slot_index,
                                    const at::Tensor& gate, const at::Tensor& combine_weight,
                                    int64_t num_experts, int64_t capacity) {
  TORCH_CHECK(expert_index.dim() == 3 && slot_index.sizes() == expert_index.sizes() &&
                  gate.sizes() == expert_index.sizes() &&
                  combine_weight.sizes() == expert_index.sizes(),
              "make_token_choice_plan: expected expert_index, slot_index, gate and combine_weight "
              "of one shape [G,S,K], got ",
              expert_index.sizes(), ", ", slot_index.sizes(), ", ", gate.sizes(), ", ",
              combine_weight.sizes());
  DispatchPlan plan = plan_shape(DispatchPlan::Kind::kTokenChoice, expert_index.size(0),
                                 expert_index.size(1), num_experts, capacity);
  plan.expert_index = expert_index;
  plan.slot_index = slot_index;
  plan.gate = gate;

  const at::Tensor kept = slot_index < capacity;  // [G,S,K]
  plan.combine_weight = combine_weight * kept.to(combine_weight.scalar_type());

  // Coordinates (g, s, k) of every kept assignment, flattened once for dispatch and combine.
  const at::Tensor kept_flat = kept.reshape(-1).nonzero().squeeze(1);  // [A]
  const int64_t tokens_per_group = plan.tokens_per_group;
  const int64_t choices = expert_index.size(2);
  const at::Tensor token_flat = at::floor_divide(kept_flat, choices);  // g·S + s
  const at::Tensor group = at::floor_divide(token_flat, tokens_per_group);
  const at::Tensor expert = expert_index.reshape(-1).index_select(0, kept_flat);
  const at::Tensor slot = slot_index.reshape(-1).index_select(0, kept_flat);
  plan.token_row = token_flat;
  plan.buffer_row = expert * (plan.num_groups * capacity) + group * capacity + slot;
  plan.kept_weight = plan.combine_weight.reshape(-1).index_select(0, kept_flat);
  return plan;
}

DispatchPlan make_soft_plan(const at::Tensor& dispatch_weight, const at::Tensor& combine_weight,
                            int64_t num_experts, int64_t slots_per_expert) {
  TORCH_CHECK(dispatch_weight.dim() == 3 && combine_weight.sizes() == dispatch_weight.sizes() &&
                  dispatch_weight.size(2) == num_experts * slots_per_expert,
              "make_soft_plan: expected dispatch and combine weights [G,S,E·C] with E·C = ",
              num_experts * slots_per_expert, ", got ", dispatch_weight.sizes(), " and ",
              combine_weight.sizes());
  DispatchPlan plan = plan_shape(DispatchPlan::Kind::kSoft, dispatch_weight.size(0),
                                 dispatch_weight.size(1), num_experts, slots_per_expert);
  plan.dispatch_weight = dispatch_weight;
  plan.combine_weight = combine_weight;
  return plan;
}

namespace {

// [G, E·C, D] slot-major per group ↔ [E, G·C, D] expert-major, for the batched expert matmuls.
at::Tensor group_major_to_expert_major(const at::Tensor& slots, int64_t experts, int64_t capacity) {
  const int64_t groups = slots.size(0), width = slots.size(2);
  return slots.reshape({groups, experts, capacity, width})
      .permute({1, 0, 2, 3})
      .reshape({experts, groups * capacity, width});
}

at::Tensor expert_major_to_group_major(const at::Tensor& slots, int64_t groups, int64_t capacity) {
  const int64_t experts = slots.size(0), width = slots.size(2);
  return slots.reshape({experts, groups, capacity, width})
      .permute({1, 0, 2, 3})
      .reshape({groups, experts * capacity, width});
}

}  // namespace

at::Tensor dispatch(const DispatchPlan& plan, const at::Tensor& tokens) {
  TORCH_CHECK(tokens.dim() == 3 && tokens.size(0) == plan.num_groups &&
                  tokens.size(1) == plan.tokens_per_group,
              "dispatch: expected tokens [G,S,D] with G = ", plan.num_groups,
              ", S = ", plan.tokens_per_group, ", got ", tokens.sizes());
  const int64_t width = tokens.size(2);
  if (plan.is_soft()) {
    // Slot inputs are convex mixes of the un-normalised tokens (Soft-MoE eq. 1): X̃ = Dᵀ X.
    const at::Tensor slots =
        small_matmul(plan.dispatch_weight.transpose(1, 2).to(tokens.scalar_type()), tokens);
    return group_major_to_expert_major(slots, plan.num_experts, plan.capacity);
  }
  // Gather by index into zeroed buffers: memory E·G·C·D, never a one-hot [S,E,C] tensor.
  const int64_t rows = plan.num_experts * plan.num_groups * plan.capacity;
  const at::Tensor flat_tokens = tokens.reshape({-1, width});
  return at::zeros({rows, width}, tokens.options())
      .index_copy(0, plan.buffer_row, flat_tokens.index_select(0, plan.token_row))
      .reshape({plan.num_experts, plan.num_groups * plan.capacity, width});
}

at::Tensor combine(const DispatchPlan& plan, const at::Tensor& expert_outputs) {
  const int64_t width = expert_outputs.size(2);
  TORCH_CHECK(expert_outputs.dim() == 3 && expert_outputs.size(0) == plan.num_experts &&
                  expert_outputs.size(1) == plan.num_groups * plan.capacity,
              "combine: expected expert outputs [E, G·C, D] = [", plan.num_experts, ", ",
              plan.num_groups * plan.capacity, ", D], got ", expert_outputs.sizes());
  if (plan.is_soft()) {
    const at::Tensor slots =
        expert_major_to_group_major(expert_outputs, plan.num_groups, plan.capacity);
    return small_matmul(plan.combine_weight.to(slots.scalar_type()), slots);
  }
  const at::Tensor flat_outputs = expert_outputs.reshape({-1, width});
  const at::Tensor weighted = flat_outputs.index_select(0, plan.buffer_row) *
                              plan.kept_weight.to(flat_outputs.scalar_type()).unsqueeze(1);
  return at::zeros({plan.num_groups * plan.tokens_per_group, width}, weighted.options())
      .index_add(0, plan.token_row, weighted)
      .reshape({plan.num_groups, plan.tokens_per_group, width});
}

}  // namespace moevit
