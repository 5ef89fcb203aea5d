// Statistics of one MoE layer's routing, read from its DispatchPlan (never by re-routing).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "moe/dispatch_plan.h"

namespace moevit {

struct RoutingStats {
  // [E] float64: token choice — (token, choice) assignments each expert processed (kept);
  // soft — the dispatch mass each expert received (Σ over its slots of Σ over tokens = C·G).
  at::Tensor expert_load;
  at::Tensor expert_requested;  // [E] float64: assignments asked for, kept or not (soft: load)
  // Token choice: the choices taken, G·S·K unless top-p stopped early; Expert Choice: the
  // (token, expert) picks, E·C per group; soft: 0.
  int64_t assignments = 0;
  int64_t dropped = 0;             // assignments beyond capacity
  double dropped_fraction = 0;     // dropped / assignments
  int64_t tokens = 0;              // token choice and Expert Choice: G·S; soft: 0
  int64_t tokens_unprocessed = 0;  // tokens none of whose choices was kept
  double tokens_unprocessed_fraction() const;
  // Token choice and Expert Choice: tokens by how many experts processed them: 0, 1, 2 or more.
  int64_t tokens_by_expert_count[3] = {0, 0, 0};
  // Mean number of experts that processed a token: its active expert compute (k for plain
  // top-k without drops; less with top-p or drops; capacity · E / S for Expert Choice).
  double mean_experts_per_token() const;
  // Every kind: tokens routed (G·S) and those that reached at least one expert (soft: all of
  // them unless the experts are cut). Their ratio is what eval --sweep plots.
  int64_t routed_tokens = 0;
  int64_t reached_tokens = 0;
  double reached_fraction() const;
  // Token choice: Σ over tokens of the top-1 gate (the router's confidence; 1/E when its
  // softmax is flat), and Σ over tokens and kept choices of the combine weight (how strongly
  // the experts' outputs enter the residual, moe.gate_scale included; 0 for dropped choices). Soft:
  // 0 (its combine weights sum to 1 per token by construction).
  double top_gate_sum = 0;
  double combine_weight_sum = 0;
  double mean_top_gate() const;      // top_gate_sum / tokens
  double mean_token_weight() const;  // combine_weight_sum / tokens

  // Share of the load per expert (sums to 1), and its spread, for logs.
  at::Tensor load_share() const;
  double load_share_min() const;
  double load_share_max() const;
  double load_coefficient_of_variation() const;  // std/mean of expert_load (population)

  // Token choice: the share of tokens that asked for the most-asked expert (among their k
  // choices), kept or not, and that expert. Balanced routing gives k/E; a router whose argmax
  // sends most tokens to one expert shows here whatever the capacity (soft: 0, expert -1).
  double top_expert_token_share() const;
  int64_t top_expert() const;
  // True when that share exceeds max(1/2, 2k/E): routing has concentrated on one expert, the
  // others are mostly idle, and the MoE layer is unlikely to beat a dense FFN.
  bool concentrated() const;

  // Token choice: true when the experts' outputs reach the residual at a mean weight per token
  // below min(1/2, 2k/E), i.e. under twice what a flat router's gates (k/E) give. The layer's
  // branch is then a small fraction of a dense FFN's and the model learns to do without it
  // (docs/results.md: converged top-1 models at 1/E, accuracy flat as capacity is cut).
  bool contributes_little() const;

  RoutingStats& operator+=(const RoutingStats& other);  // accumulate over batches
};

RoutingStats routing_stats(const DispatchPlan& plan);

}  // namespace moevit
