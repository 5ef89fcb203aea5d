#include "moe/dispatch_plan.h"

#include <c10/util/Exception.h>

#include "moe/dispatch_kernels.h"
#include "ops/small_matmul.h"

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

// Padded row maps → packed ones: the filled padded rows, numbered in order (so expert-major),
// and each choice's row renumbered. One pass over the E·G·C padded rows.
void pack_rows(DispatchPlan& plan) {
  const int64_t padded_rows = plan.token_of_slot.size(0);
  const int64_t rows_per_padded_expert = plan.num_groups * plan.capacity;
  const int64_t* token_of_padded = plan.token_of_slot.data_ptr<int64_t>();
  std::vector<int64_t> packed_of_padded(padded_rows, -1);
  plan.rows_per_expert.assign(plan.num_experts, 0);
  int64_t packed_rows = 0;
  for (int64_t row = 0; row < padded_rows; ++row) {
    if (token_of_padded[row] < 0) continue;
    packed_of_padded[row] = packed_rows++;
    ++plan.rows_per_expert[row / rows_per_padded_expert];
  }
  at::Tensor token_of_slot = at::empty({packed_rows}, plan.token_of_slot.options());
  int64_t* token_of_packed = token_of_slot.data_ptr<int64_t>();
  for (int64_t row = 0; row < padded_rows; ++row)
    if (packed_of_padded[row] >= 0) token_of_packed[packed_of_padded[row]] = token_of_padded[row];
  int64_t* slot_of_choice = plan.slot_of_choice.data_ptr<int64_t>();
  for (int64_t choice = 0; choice < plan.slot_of_choice.numel(); ++choice)
    if (slot_of_choice[choice] >= 0)
      slot_of_choice[choice] = packed_of_padded[slot_of_choice[choice]];
  plan.token_of_slot = token_of_slot;
}

}  // namespace

DispatchPlan make_token_choice_plan(const at::Tensor& expert_index, const at::Tensor& slot_index,
                                    const at::Tensor& gate, const at::Tensor& combine_weight,
                                    int64_t num_experts, int64_t capacity, RowLayout layout) {
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

  const at::Tensor kept = (slot_index >= 0).logical_and_(slot_index < capacity);  // [G,S,K]
  plan.combine_weight = combine_weight * kept.to(combine_weight.scalar_type());

  // Buffer row of every choice (-1 if dropped), and the token row of every buffer row.
  const int64_t groups = plan.num_groups, tokens_per_group = plan.tokens_per_group;
  const int64_t choices = expert_index.size(2);
  if (expert_index.is_cpu()) {
    // One pass over the G·S·K choices (a handful of ATen ops would each cost more).
    const at::Tensor experts = expert_index.contiguous(), slots = slot_index.contiguous();
    plan.slot_of_choice = at::empty({groups * tokens_per_group, choices}, experts.options());
    plan.token_of_slot = at::full({num_experts * groups * capacity}, -1, experts.options());
    const int64_t* expert = experts.data_ptr<int64_t>();
    const int64_t* slot = slots.data_ptr<int64_t>();
    int64_t* slot_of_choice = plan.slot_of_choice.data_ptr<int64_t>();
    int64_t* token_of_slot = plan.token_of_slot.data_ptr<int64_t>();
    for (int64_t choice = 0; choice < groups * tokens_per_group * choices; ++choice) {
      const int64_t token = choice / choices, group = token / tokens_per_group;
      if (slot[choice] < 0 || slot[choice] >= capacity) {
        slot_of_choice[choice] = -1;
        continue;
      }
      const int64_t row = expert[choice] * groups * capacity + group * capacity + slot[choice];
      slot_of_choice[choice] = row;
      token_of_slot[row] = token;
    }
    if (layout == RowLayout::kPacked) pack_rows(plan);
    return plan;
  }
  TORCH_CHECK(layout == RowLayout::kPadded,
              "make_token_choice_plan: packed rows need CPU tensors, got ", expert_index.device());
  const at::Tensor group = at::arange(groups, expert_index.options()).view({groups, 1, 1});
  const at::Tensor buffer_row = expert_index * (groups * capacity) + group * capacity + slot_index;
  plan.slot_of_choice = at::where(kept, buffer_row, at::full({}, -1, buffer_row.options()))
                            .reshape({groups * tokens_per_group, choices});
  const at::Tensor token_row = at::arange(groups * tokens_per_group, expert_index.options())
                                   .view({groups, tokens_per_group, 1})
                                   .expand_as(expert_index);
  plan.token_of_slot =
      at::full({num_experts * groups * capacity}, -1, expert_index.options())
          .index_put_({buffer_row.masked_select(kept)}, token_row.masked_select(kept));
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
  // Gather by index into the buffers: memory E·G·C·D, never a one-hot [S,E,C] tensor.
  const at::Tensor flat_tokens = tokens.reshape({-1, width});
  at::Tensor buffers;
  if (flat_tokens.is_cpu()) {
    buffers = gather_slots(flat_tokens, plan.token_of_slot, plan.slot_of_choice);
    if (plan.is_packed()) return buffers;  // [P, D]
  } else {
    const at::Tensor kept = plan.slot_of_choice.reshape(-1).ge(0).nonzero().squeeze(1);
    const at::Tensor token_row = at::floor_divide(kept, plan.slot_of_choice.size(1));
    buffers = at::zeros({plan.token_of_slot.size(0), width}, tokens.options())
                  .index_copy(0, plan.slot_of_choice.reshape(-1).index_select(0, kept),
                              flat_tokens.index_select(0, token_row));
  }
  return buffers.reshape({plan.num_experts, plan.num_groups * plan.capacity, width});
}

at::Tensor combine(const DispatchPlan& plan, const at::Tensor& expert_outputs) {
  if (plan.is_packed()) {
    TORCH_CHECK(expert_outputs.dim() == 2 && expert_outputs.size(0) == plan.token_of_slot.size(0),
                "combine: expected packed expert outputs [P, D] with P = ",
                plan.token_of_slot.size(0), ", got ", expert_outputs.sizes());
  } else {
    TORCH_CHECK(expert_outputs.dim() == 3 && expert_outputs.size(0) == plan.num_experts &&
                    expert_outputs.size(1) == plan.num_groups * plan.capacity,
                "combine: expected expert outputs [E, G·C, D] = [", plan.num_experts, ", ",
                plan.num_groups * plan.capacity, ", D], got ", expert_outputs.sizes());
  }
  const int64_t width = expert_outputs.size(-1);
  if (plan.is_soft()) {
    const at::Tensor slots =
        expert_major_to_group_major(expert_outputs, plan.num_groups, plan.capacity);
    return small_matmul(plan.combine_weight.to(slots.scalar_type()), slots);
  }
  const at::Tensor flat_outputs = expert_outputs.reshape({-1, width});
  const at::Tensor weights = plan.combine_weight.reshape(plan.slot_of_choice.sizes());
  at::Tensor tokens;
  if (flat_outputs.is_cpu()) {
    tokens = combine_slots(flat_outputs, weights, plan.slot_of_choice);
  } else {
    const at::Tensor kept = plan.slot_of_choice.reshape(-1).ge(0).nonzero().squeeze(1);
    const at::Tensor weighted =
        flat_outputs.index_select(0, plan.slot_of_choice.reshape(-1).index_select(0, kept)) *
        weights.reshape(-1).index_select(0, kept).to(flat_outputs.scalar_type()).unsqueeze(1);
    tokens = at::zeros({weights.size(0), width}, weighted.options())
                 .index_add(0, at::floor_divide(kept, weights.size(1)), weighted);
  }
  return tokens.reshape({plan.num_groups, plan.tokens_per_group, width});
}

}  // namespace moevit
