#include "moe/soft_router.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "moe/dispatch_plan.h"
#include "moe/routing_stats.h"

namespace moevit {
namespace {

TEST(SoftRouter, DispatchSumsToOneOverTokensAndCombineOverSlots) {
  torch::manual_seed(0);
  const torch::Tensor tokens = torch::randn({3, 10, 16});
  const torch::Tensor phi = torch::randn({16, 4 * 2});
  const RouterOutput routed = route_soft(soft_router_logits(tokens, phi, torch::ones({})), 4, 2);
  const DispatchPlan& plan = routed.plan;
  EXPECT_TRUE(plan.is_soft());
  EXPECT_TRUE(torch::allclose(plan.dispatch_weight.sum(1), torch::ones({3, 8}), 1e-5));
  EXPECT_TRUE(torch::allclose(plan.combine_weight.sum(2), torch::ones({3, 10}), 1e-5));
  EXPECT_EQ(routed.aux.total.item<float>(), 0.0f);
}

TEST(SoftRouter, LogitsAreScaledCosineSimilarities) {
  const torch::Tensor tokens = torch::tensor({3.0f, 4.0f}).reshape({1, 1, 2});
  const torch::Tensor phi = torch::tensor({2.0f, 0.0f, 0.0f, 5.0f}).reshape({2, 2});
  // x̂ = (0.6, 0.8); φ̂ columns = (1, 0) and (0, 1); scale 2 → logits (1.2, 1.6).
  const torch::Tensor logits = soft_router_logits(tokens, phi, torch::full({}, 2.0f));
  EXPECT_TRUE(torch::allclose(logits, torch::tensor({1.2f, 1.6f}).reshape({1, 1, 2})));
}

TEST(SoftRouter, DispatchAndCombineFollowTheFormulaOnASmallInput) {
  // G = 1, S = 3 tokens, E = 2 experts, C = 1 slot each; identity experts.
  torch::manual_seed(1);
  const torch::Tensor tokens = torch::randn({1, 3, 4});
  const torch::Tensor logits = torch::randn({1, 3, 2});
  const DispatchPlan plan = route_soft(logits, 2, 1).plan;
  const torch::Tensor dispatch_by_hand = torch::softmax(logits[0], 0);         // [S, M]
  const torch::Tensor combine_by_hand = torch::softmax(logits[0], 1);          // [S, M]
  const torch::Tensor slots_by_hand = dispatch_by_hand.t().matmul(tokens[0]);  // [M, D]
  const torch::Tensor slot_inputs = dispatch(plan, tokens);                    // [E, G·C, D]
  EXPECT_TRUE(torch::allclose(slot_inputs.reshape({2, 4}), slots_by_hand, 1e-5));
  // Experts that double their input: output = combine · (2 · slots).
  const torch::Tensor output = combine(plan, slot_inputs * 2);
  EXPECT_TRUE(torch::allclose(output[0], combine_by_hand.matmul(slots_by_hand * 2), 1e-5));
}

TEST(SoftRouter, StatisticsGiveEachExpertItsDispatchMass) {
  const torch::Tensor logits = torch::zeros({2, 4, 6});  // uniform: each slot mass 1 per group
  const RoutingStats stats = routing_stats(route_soft(logits, 3, 2).plan);
  EXPECT_TRUE(torch::allclose(stats.expert_load, torch::full({3}, 4.0, torch::kDouble)));
  EXPECT_EQ(stats.dropped, 0);
  EXPECT_FALSE(stats.concentrated());  // slots are fixed per expert: nothing to concentrate
}

}  // namespace
}  // namespace moevit
