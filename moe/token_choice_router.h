// Token-choice routing: each token picks its K best experts (V-MoE, arXiv 2106.05974).
// Top-k and Batch Prioritized Routing are one algorithm; BPR only changes the order in which
// tokens claim expert slots.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>

#include "moe/moe_options.h"
#include "moe/router_output.h"

namespace moevit {

// Global-batch balance: receives this forward's top-1 count per expert [E] (float) and returns
// the counts of the global batch so far (all ranks, all micro-batches of the optimizer step),
// from which the Switch loss takes f_e. Supplied by the trainer (moe/ knows no processes).
using ExpertCountReducer = std::function<at::Tensor(const at::Tensor& local_counts)>;

struct TokenChoiceRouting {
  int64_t experts_per_token = 1;  // K
  int64_t capacity = 1;           // C, slots per expert per group (see compute_capacity)
  bool batch_priority = false;    // BPR: claim slots by descending top-1 gate
  // Combine weights divided by the sum of the chosen gates (K ≥ 2 only: at K = 1 the weight
  // would be 1 and the router would get no task gradient). A sigmoid gate always renormalises.
  bool renormalize_gates = false;
  double gate_scale = 1.0;  // combine weights multiplied by this (after renormalising)
  double noise_std = 1.0;   // training noise std · E (vmoe convention)
  GateFunction gate = GateFunction::kSoftmax;
  // [E] float or undefined: DeepSeek-V3's balancing bias, added to the scores to choose experts
  // only (the gates and combine weights stay the unbiased scores).
  at::Tensor expert_bias;
  double top_p = 0;  // > 0: a token stops taking experts once their gates sum to top_p
  AuxLossWeights loss_weights;
  RowLayout layout = RowLayout::kPadded;  // of the experts' rows; kPacked on CPU only
  // Set: the Switch loss takes f_e from the reduced counts (global scope); empty: per group.
  ExpertCountReducer count_reducer;
};

// logits [G,S,E] (router output before softmax) → plan over [E, G·C] (or packed) buffer rows +
// aux losses.
RouterOutput route_token_choice(const at::Tensor& logits, const TokenChoiceRouting& routing,
                                bool training);

// The same routing from given scores (softmax probabilities or sigmoid affinities [G,S,E]),
// without noise or losses: the core of route_token_choice, exposed for tests on constructed
// gates.
DispatchPlan plan_token_choice(const at::Tensor& scores, const TokenChoiceRouting& routing);

// Top-p (Huang et al. 2024, arXiv 2403.07652 eq. 4): which of the K choices, gates [G,S,K] in
// choice order, a token takes: the shortest prefix whose gates sum to at least top_p (always
// the first; all K when their sum stays below top_p). Returns [G,S,K] bool.
at::Tensor top_p_choices(const at::Tensor& gate, double top_p);

}  // namespace moevit
