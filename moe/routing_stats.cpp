#include "moe/routing_stats.h"

#include <algorithm>

namespace moevit {

RoutingStats routing_stats(const DispatchPlan& plan) {
  RoutingStats stats;
  const auto count_options = at::TensorOptions().dtype(at::kDouble);
  if (plan.is_soft()) {
    // dispatch_weight [G,S,E·C] → mass per expert.
    stats.expert_load = plan.dispatch_weight.detach()
                            .to(at::kDouble)
                            .sum(at::IntArrayRef{0, 1})
                            .reshape({plan.num_experts, plan.capacity})
                            .sum(1)
                            .cpu();
    stats.expert_requested = stats.expert_load;
    stats.routed_tokens = plan.num_groups * plan.tokens_per_group;
    stats.reached_tokens = plan.branch_cut ? 0 : stats.routed_tokens;
    return stats;
  }
  const at::Tensor experts = plan.expert_index.reshape(-1).cpu();
  const at::Tensor slots = plan.slot_index.cpu();
  const at::Tensor chosen = slots >= 0;                               // [G,S,K]
  const at::Tensor kept = chosen.logical_and(slots < plan.capacity);  // [G,S,K]
  stats.expert_requested = at::zeros({plan.num_experts}, count_options)
                               .index_add_(0, experts, chosen.reshape(-1).to(at::kDouble));
  stats.expert_load = at::zeros({plan.num_experts}, count_options)
                          .index_add_(0, experts, kept.reshape(-1).to(at::kDouble));
  stats.assignments = chosen.sum().item<int64_t>();
  stats.dropped = stats.assignments - kept.sum().item<int64_t>();
  stats.dropped_fraction =
      stats.assignments ? static_cast<double>(stats.dropped) / stats.assignments : 0.0;
  stats.tokens = plan.num_groups * plan.tokens_per_group;
  const at::Tensor experts_of_token = kept.sum(2).reshape(-1);  // [G·S]
  stats.tokens_by_expert_count[0] = experts_of_token.eq(0).sum().item<int64_t>();
  stats.tokens_by_expert_count[1] = experts_of_token.eq(1).sum().item<int64_t>();
  stats.tokens_by_expert_count[2] = experts_of_token.ge(2).sum().item<int64_t>();
  stats.tokens_unprocessed = stats.tokens_by_expert_count[0];
  stats.routed_tokens = stats.tokens;
  stats.reached_tokens = stats.tokens - stats.tokens_unprocessed;
  stats.top_gate_sum = plan.gate.detach().select(2, 0).to(at::kDouble).sum().item<double>();
  stats.combine_weight_sum = plan.combine_weight.detach().to(at::kDouble).sum().item<double>();
  return stats;
}

at::Tensor RoutingStats::load_share() const {
  const double total = expert_load.sum().item<double>();
  return total > 0 ? expert_load / total : at::zeros_like(expert_load);
}

double RoutingStats::tokens_unprocessed_fraction() const {
  return tokens ? static_cast<double>(tokens_unprocessed) / tokens : 0.0;
}

double RoutingStats::mean_experts_per_token() const {
  return tokens ? static_cast<double>(assignments - dropped) / tokens : 0.0;
}

double RoutingStats::reached_fraction() const {
  return routed_tokens ? static_cast<double>(reached_tokens) / routed_tokens : 0.0;
}

double RoutingStats::mean_top_gate() const {
  return tokens ? top_gate_sum / tokens : 0.0;
}

double RoutingStats::mean_token_weight() const {
  return tokens ? combine_weight_sum / tokens : 0.0;
}

double RoutingStats::load_share_min() const {
  return load_share().min().item<double>();
}

double RoutingStats::load_share_max() const {
  return load_share().max().item<double>();
}

double RoutingStats::top_expert_token_share() const {
  if (tokens == 0 || !expert_requested.defined()) return 0.0;
  return expert_requested.max().item<double>() / static_cast<double>(tokens);
}

int64_t RoutingStats::top_expert() const {
  if (tokens == 0 || !expert_requested.defined()) return -1;
  return expert_requested.argmax().item<int64_t>();
}

bool RoutingStats::concentrated() const {
  if (tokens == 0 || assignments == 0) return false;
  const double experts_per_token = static_cast<double>(assignments) / tokens;
  const double num_experts = static_cast<double>(expert_requested.numel());
  return top_expert_token_share() > std::max(0.5, 2 * experts_per_token / num_experts);
}

bool RoutingStats::contributes_little() const {
  // A layer whose experts were cut on purpose (eval capacity factor 0) is not warned about.
  const bool experts_cut = routed_tokens > 0 && reached_tokens == 0;
  if (tokens == 0 || assignments == 0 || experts_cut) return false;
  const double experts_per_token = static_cast<double>(assignments) / tokens;
  const double num_experts = static_cast<double>(expert_requested.numel());
  return mean_token_weight() < std::min(0.5, 2 * experts_per_token / num_experts);
}

double RoutingStats::load_coefficient_of_variation() const {
  const double mean = expert_load.mean().item<double>();
  return mean > 0 ? expert_load.std(/*unbiased=*/false).item<double>() / mean : 0.0;
}

RoutingStats& RoutingStats::operator+=(const RoutingStats& other) {
  if (!expert_load.defined()) return *this = other;
  expert_load = expert_load + other.expert_load;
  expert_requested = expert_requested + other.expert_requested;
  assignments += other.assignments;
  dropped += other.dropped;
  dropped_fraction = assignments ? static_cast<double>(dropped) / assignments : 0.0;
  tokens += other.tokens;
  tokens_unprocessed += other.tokens_unprocessed;
  for (int count = 0; count < 3; ++count)
    tokens_by_expert_count[count] += other.tokens_by_expert_count[count];
  routed_tokens += other.routed_tokens;
  reached_tokens += other.reached_tokens;
  top_gate_sum += other.top_gate_sum;
  combine_weight_sum += other.combine_weight_sum;
  return *this;
}

}  // namespace moevit
