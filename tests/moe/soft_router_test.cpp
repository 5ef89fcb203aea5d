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

TEST(SoftRouter, LogitsAndGradientsEqualNormalisingTheTokensFirst) {
  // The router divides the product by |x| instead of dividing x; values and gradients must be
  // those of l2norm(x) · (scale · l2norm(φ)), including a zero token (norm clamped).
  torch::manual_seed(2);
  const auto options = torch::dtype(torch::kDouble).requires_grad(true);
  torch::Tensor tokens_data = torch::randn({2, 5, 6}, torch::kDouble) * 3;
  tokens_data[1][2].zero_();
  const torch::Tensor tokens = tokens_data.clone().set_requires_grad(true);
  const torch::Tensor phi = torch::randn({6, 4}, options);
  const torch::Tensor scale = torch::full({}, 1.7, options);
  const torch::Tensor weights = torch::randn({2, 5, 4}, torch::kDouble);
  const torch::Tensor logits = soft_router_logits(tokens, phi, scale);
  const auto grads = torch::autograd::grad({(logits * weights).sum()}, {tokens, phi, scale});

  const torch::Tensor tokens_ref = tokens_data.clone().set_requires_grad(true);
  const torch::Tensor phi_ref = phi.detach().clone().set_requires_grad(true);
  const torch::Tensor scale_ref = scale.detach().clone().set_requires_grad(true);
  const torch::Tensor reference =
      torch::matmul(tokens_ref / tokens_ref.norm(2, -1, true).clamp_min(1e-6),
                    scale_ref * phi_ref / phi_ref.norm(2, 0, true).clamp_min(1e-6));
  const auto grads_ref =
      torch::autograd::grad({(reference * weights).sum()}, {tokens_ref, phi_ref, scale_ref});
  EXPECT_EQ(logits.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::allclose(logits, reference, 1e-12, 1e-12));
  EXPECT_TRUE(torch::all(logits[1][2] == 0).item<bool>());
  for (size_t i = 0; i < grads.size(); ++i)
    EXPECT_TRUE(torch::allclose(grads[i], grads_ref[i], 1e-10, 1e-12)) << "gradient " << i;
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
