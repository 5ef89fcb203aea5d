// The seam between routers and experts: a router turns logits into a DispatchPlan (which token
// goes to which expert slot, with which weight); `dispatch` fills the experts' input buffers from
// it, `combine` brings their outputs back; statistics and heatmaps read it. Nothing re-routes.
//
// Axis legend for shape comments in moe/ (as vmoe/moe.py and llm.c keep one):
//   B images, N tokens per image, D token width, H expert hidden width,
//   G routing groups, S tokens per group (= images per group · N),
//   E experts, C slots per expert per group (capacity; soft: slots per expert),
//   K experts per token (token choice), M = E·C slots of a group (soft).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace moevit {

// How a token-choice plan lays out the experts' input rows.
//   kPadded: [E, G·C, D], every expert its full capacity of rows, empty slots zero (one batched
//            product over all experts; fixed shapes, as an accelerator wants them).
//   kPacked: [P, D], only the P filled slots, expert by expert (rows_per_expert): the experts
//            compute no empty or dropped slot, so their cost follows the tokens they take
//            (CPU only; docs/performance.md).
enum class RowLayout { kPadded, kPacked };

struct DispatchPlan {
  enum class Kind { kTokenChoice, kSoft };
  Kind kind = Kind::kTokenChoice;
  int64_t num_groups = 0;        // G
  int64_t tokens_per_group = 0;  // S
  int64_t num_experts = 0;       // E
  int64_t capacity = 0;          // C: buffer rows per expert per group

  // Token choice (top-k, priority, Expert Choice). Overflow (token, choice) pairs have
  // slot_index >= capacity and combine weight 0: they get no expert output and ride the
  // residual. A choice not taken has slot_index -1 and weight 0: top-p stopped before it, or,
  // in an Expert Choice plan (K = E, one entry per expert in the token's gate order), that
  // expert did not pick the token.
  at::Tensor expert_index;  // [G,S,K] int64, the expert of each choice (best first)
  at::Tensor slot_index;    // [G,S,K] int64, row in that expert's group buffer, or -1
  at::Tensor gate;          // [G,S,K] float, router probability of each choice (dropped or not)
  // Token choice: [G,S,K] gate (renormalised if asked), 0 where dropped; carries the router's
  // gradient. Soft: [G,S,M] softmax over the slots of each token.
  at::Tensor combine_weight;
  // Token choice, the two directions of the assignment, for dispatch and combine:
  // Padded rows are e·G·C + g·C + slot; packed rows number the filled padded rows in order.
  at::Tensor slot_of_choice;  // [G·S, K] int64: buffer row of each choice, or -1 if dropped
  at::Tensor token_of_slot;   // [rows] int64: token row g·S + s, or -1 for an empty slot
  std::vector<int64_t> rows_per_expert;  // packed: filled rows of each expert; padded: empty

  // Soft: [G,S,M] softmax over the tokens of each slot.
  at::Tensor dispatch_weight;

  // Set by the MoE layer when its experts are cut at evaluation (eval capacity factor 0): no
  // token reached an expert and the layer's routed output is zero. Token-choice plans then
  // also have capacity 0; soft plans keep their weights, unused.
  bool branch_cut = false;

  bool is_soft() const { return kind == Kind::kSoft; }
  bool is_packed() const { return !rows_per_expert.empty(); }
  int64_t experts_per_token() const { return is_soft() ? 0 : expert_index.size(2); }
};

// Builds a token-choice plan from the router's choices and their slots.
//   expert_index, slot_index [G,S,K] int64; gate, combine_weight [G,S,K] float (combine weight
//   not yet masked: it is zeroed here where slot_index is -1 or >= capacity). capacity may be 0
//   (every choice dropped). kPacked needs CPU tensors.
DispatchPlan make_token_choice_plan(const at::Tensor& expert_index, const at::Tensor& slot_index,
                                    const at::Tensor& gate, const at::Tensor& combine_weight,
                                    int64_t num_experts, int64_t capacity,
                                    RowLayout layout = RowLayout::kPadded);

// Builds a soft plan. dispatch_weight, combine_weight [G,S,E·C].
DispatchPlan make_soft_plan(const at::Tensor& dispatch_weight, const at::Tensor& combine_weight,
                            int64_t num_experts, int64_t slots_per_expert);

// tokens [G,S,D] → expert inputs [E, G·C, D] (empty token-choice slots are zero), or [P, D]
// for a packed plan.
at::Tensor dispatch(const DispatchPlan& plan, const at::Tensor& tokens);

// expert outputs [E, G·C, D] (packed: [P, D]) → tokens [G,S,D], each the weighted sum of its slots'
// outputs (token choice on CPU: in float, whatever the outputs' dtype).
at::Tensor combine(const DispatchPlan& plan, const at::Tensor& expert_outputs);

}  // namespace moevit
