#include "moe/expert_choice_router.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "moe/dispatch_plan.h"
#include "moe/routing_stats.h"

namespace moevit {
namespace {

// 4 tokens, 2 experts, C = 2. Expert 0's column 0.6, 0.6, 0.3, 0.2 takes tokens 0 and 1 (a tie,
// both fit); expert 1's column 0.4, 0.4, 0.7, 0.1 takes token 2, then tokens 0 and 1 tie for
// its last slot and the lower index, token 0, wins. Token 0 gets two experts, tokens 1 and 2
// one, token 3 none.
torch::Tensor tied_scores() {
  return torch::tensor({0.6f, 0.4f, 0.6f, 0.4f, 0.3f, 0.7f, 0.2f, 0.1f}).reshape({1, 4, 2});
}

ExpertChoiceRouting routing_with(int64_t capacity, double gate_scale = 1.0) {
  ExpertChoiceRouting routing;
  routing.capacity = capacity;
  routing.gate_scale = gate_scale;
  return routing;
}

TEST(ExpertChoiceRouter, EachExpertTakesItsBestTokensAndTiesGoToTheLowerToken) {
  const DispatchPlan plan = plan_expert_choice(tied_scores(), routing_with(2));
  EXPECT_EQ(plan.experts_per_token(), 2);  // K = E
  EXPECT_EQ(plan.capacity, 2);
  // Each token's experts in descending gate order, and its rank in each expert's picks.
  EXPECT_TRUE(torch::equal(
      plan.expert_index, torch::tensor({0, 1, 0, 1, 1, 0, 0, 1}, torch::kLong).reshape({1, 4, 2})));
  EXPECT_TRUE(
      torch::equal(plan.slot_index,
                   torch::tensor({0, 1, 1, -1, 0, -1, -1, -1}, torch::kLong).reshape({1, 4, 2})));
  EXPECT_TRUE(torch::equal(
      plan.gate,
      torch::tensor({0.6f, 0.4f, 0.6f, 0.4f, 0.7f, 0.3f, 0.2f, 0.1f}).reshape({1, 4, 2})));
  // combine = gate where taken, 0 elsewhere.
  EXPECT_TRUE(
      torch::equal(plan.combine_weight,
                   torch::tensor({0.6f, 0.4f, 0.6f, 0.f, 0.7f, 0.f, 0.f, 0.f}).reshape({1, 4, 2})));
}

TEST(ExpertChoiceRouter, DispatchFillsEveryExpertAndCombineWeighsByGate) {
  const DispatchPlan plan = plan_expert_choice(tied_scores(), routing_with(2, /*gate_scale=*/2.0));
  const torch::Tensor tokens = torch::arange(1, 5, torch::kFloat).reshape({1, 4, 1});
  // Expert 0: tokens 0, 1; expert 1: tokens 2, 0. No empty slot.
  const torch::Tensor buffers = dispatch(plan, tokens);
  EXPECT_TRUE(torch::equal(buffers, torch::tensor({1.f, 2.f, 3.f, 1.f}).reshape({2, 2, 1})));
  // Outputs ×10, weights 2·gate: token 0 = 2·(0.6 + 0.4)·10, token 1 = 2·0.6·20,
  // token 2 = 2·0.7·30, token 3 reached no expert.
  const torch::Tensor output = combine(plan, buffers * 10);
  EXPECT_TRUE(torch::allclose(output, torch::tensor({20.f, 24.f, 42.f, 0.f}).reshape({1, 4, 1})));
  // The packed layout (CPU, fp32 in the layer) gives the same output.
  ExpertChoiceRouting packed_routing = routing_with(2, 2.0);
  packed_routing.layout = RowLayout::kPacked;
  const DispatchPlan packed = plan_expert_choice(tied_scores(), packed_routing);
  EXPECT_EQ(packed.rows_per_expert, (std::vector<int64_t>{2, 2}));
  EXPECT_TRUE(torch::allclose(combine(packed, dispatch(packed, tokens) * 10), output));
}

TEST(ExpertChoiceRouter, StatisticsCountTokensByHowManyExpertsTookThem) {
  const RoutingStats stats = routing_stats(plan_expert_choice(tied_scores(), routing_with(2)));
  EXPECT_EQ(stats.assignments, 4);  // E·C picks
  EXPECT_EQ(stats.dropped, 0);
  EXPECT_EQ(stats.tokens, 4);
  EXPECT_TRUE(torch::equal(stats.expert_load, torch::tensor({2.0, 2.0}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(stats.expert_requested, stats.expert_load));
  EXPECT_EQ(stats.tokens_by_expert_count[0], 1);  // token 3
  EXPECT_EQ(stats.tokens_by_expert_count[1], 2);  // tokens 1, 2
  EXPECT_EQ(stats.tokens_by_expert_count[2], 1);  // token 0
  EXPECT_EQ(stats.tokens_unprocessed, 1);
  EXPECT_DOUBLE_EQ(stats.mean_experts_per_token(), 1.0);  // E·C / S = 2·2 / 4
  EXPECT_EQ(stats.routed_tokens, 4);
  EXPECT_EQ(stats.reached_tokens, 3);
  EXPECT_DOUBLE_EQ(stats.reached_fraction(), 0.75);
  // Kept combine weights 0.6 + 0.4 + 0.6 + 0.7.
  EXPECT_NEAR(stats.combine_weight_sum, 2.3, 1e-6);
}

TEST(ExpertChoiceRouter, EveryExpertTakesExactlyCapacityTokensTheBestOnes) {
  torch::manual_seed(5);
  const int64_t groups = 3, tokens = 10, experts = 4;
  const torch::Tensor scores = torch::softmax(torch::randn({groups, tokens, experts}) * 2, -1);
  for (const int64_t capacity : {1, 3, 10}) {
    const DispatchPlan plan = plan_expert_choice(scores, routing_with(capacity));
    const torch::Tensor taken = plan.slot_index >= 0;
    EXPECT_EQ(plan.slot_index.max().item<int64_t>(), capacity - 1);
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t e = 0; e < experts; ++e) {
        const torch::Tensor on_expert = (plan.expert_index[g] == e) & taken[g];
        EXPECT_EQ(on_expert.sum().item<int64_t>(), capacity);
        // Slots 0..C-1, one token each.
        const torch::Tensor slots = std::get<0>(plan.slot_index[g].masked_select(on_expert).sort());
        EXPECT_TRUE(torch::equal(slots, torch::arange(capacity, torch::kLong)));
        // No token left out scores above one taken.
        const torch::Tensor picked_gates = plan.gate[g].masked_select(on_expert);
        const torch::Tensor left_gates =
            plan.gate[g].masked_select((plan.expert_index[g] == e) & ~taken[g]);
        if (left_gates.numel() > 0) {
          EXPECT_GE(picked_gates.min().item<float>(), left_gates.max().item<float>());
        }
      }
    EXPECT_EQ(plan.combine_weight.masked_select(~taken).abs().sum().item<float>(), 0.0f);
    EXPECT_TRUE(
        torch::equal(plan.combine_weight.masked_select(taken), plan.gate.masked_select(taken)));
  }
}

TEST(ExpertChoiceRouter, RouteUsesTheGatesOfTheLogitsAndOnlyTheZLoss) {
  torch::manual_seed(6);
  const torch::Tensor logits = torch::randn({2, 6, 3});
  ExpertChoiceRouting routing = routing_with(2);
  routing.gate = GateFunction::kSigmoid;
  const RouterOutput sigmoid = route_expert_choice(logits, routing, /*training=*/false);
  EXPECT_TRUE(torch::allclose(sigmoid.plan.gate,
                              torch::sigmoid(logits).gather(-1, sigmoid.plan.expert_index)));
  EXPECT_EQ(sigmoid.aux.total.item<float>(), 0.0f);
  routing.gate = GateFunction::kSoftmax;
  routing.z_loss_weight = 0.5;
  const RouterOutput softmax = route_expert_choice(logits, routing, /*training=*/false);
  EXPECT_TRUE(torch::allclose(softmax.plan.gate,
                              torch::softmax(logits, -1).gather(-1, softmax.plan.expert_index)));
  const double z_loss = torch::logsumexp(logits, -1).pow(2).mean().item<double>();
  EXPECT_NEAR(softmax.aux.total.item<double>(), 0.5 * z_loss, 1e-5);
}

TEST(ExpertChoiceRouter, CapacityZeroTakesNoToken) {
  const DispatchPlan plan = plan_expert_choice(tied_scores(), routing_with(0));
  EXPECT_TRUE(torch::equal(plan.slot_index, torch::full({1, 4, 2}, -1, torch::kLong)));
  EXPECT_EQ(plan.combine_weight.abs().sum().item<float>(), 0.0f);
  const RoutingStats stats = routing_stats(plan);
  EXPECT_EQ(stats.assignments, 0);
  EXPECT_EQ(stats.tokens_by_expert_count[0], 4);
  EXPECT_DOUBLE_EQ(stats.reached_fraction(), 0.0);
}

}  // namespace
}  // namespace moevit
