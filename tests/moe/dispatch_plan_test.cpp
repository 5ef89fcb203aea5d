#include "moe/dispatch_plan.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace moevit {
namespace {

// G = 2 groups, S = 3 tokens, K = 1, E = 2, C = 2, one assignment over capacity.
DispatchPlan small_plan() {
  const torch::Tensor expert = torch::tensor({0, 1, 0, 1, 1, 1}, torch::kLong).reshape({2, 3, 1});
  const torch::Tensor slot = torch::tensor({0, 0, 1, 0, 1, 2}, torch::kLong).reshape({2, 3, 1});
  const torch::Tensor gate = torch::tensor({.5f, .6f, .7f, .8f, .9f, 1.f}).reshape({2, 3, 1});
  return make_token_choice_plan(expert, slot, gate, gate, /*experts=*/2, /*capacity=*/2);
}

TEST(DispatchPlan, DispatchPlacesEachKeptTokenInItsExpertSlot) {
  const DispatchPlan plan = small_plan();
  const torch::Tensor tokens = torch::arange(1, 7, torch::kFloat).reshape({2, 3, 1});
  const torch::Tensor buffers = dispatch(plan, tokens);  // [E, G·C, D] = [2, 4, 1]
  // Expert 0: group 0 slots (token 1, token 3), group 1 empty.
  // Expert 1: group 0 (token 2, empty), group 1 (token 4, token 5); token 6 dropped.
  const torch::Tensor expected =
      torch::tensor({1.f, 3.f, 0.f, 0.f, 2.f, 0.f, 4.f, 5.f}).reshape({2, 4, 1});
  EXPECT_TRUE(torch::equal(buffers, expected));
}

TEST(DispatchPlan, CombineWeighsOutputsAndDroppedTokensGetZero) {
  const DispatchPlan plan = small_plan();
  const torch::Tensor tokens = torch::arange(1, 7, torch::kFloat).reshape({2, 3, 1});
  const torch::Tensor output = combine(plan, dispatch(plan, tokens) * 10);
  const torch::Tensor expected =
      torch::tensor({5.f, 12.f, 21.f, 32.f, 45.f, 0.f}).reshape({2, 3, 1});
  EXPECT_TRUE(torch::allclose(output, expected));
  EXPECT_EQ(plan.combine_weight[1][2][0].item<float>(), 0.0f);
}

TEST(DispatchPlan, GradientFlowsToTokensAndCombineWeights) {
  const torch::Tensor expert = torch::tensor({0, 1}, torch::kLong).reshape({1, 2, 1});
  const torch::Tensor slot = torch::zeros({1, 2, 1}, torch::kLong);
  const torch::Tensor gate = torch::tensor({.5f, .25f}, torch::requires_grad()).reshape({1, 2, 1});
  const DispatchPlan plan = make_token_choice_plan(expert, slot, gate, gate, 2, 1);
  const torch::Tensor tokens = torch::ones({1, 2, 3}, torch::requires_grad());
  combine(plan, dispatch(plan, tokens)).sum().backward();
  EXPECT_TRUE(torch::allclose(tokens.grad(),
                              torch::tensor({.5f, .5f, .5f, .25f, .25f, .25f}).reshape({1, 2, 3})));
}

TEST(DispatchPlan, RefusesMismatchedShapes) {
  const torch::Tensor expert = torch::zeros({1, 2, 1}, torch::kLong);
  EXPECT_THROW(make_token_choice_plan(expert, torch::zeros({1, 3, 1}, torch::kLong),
                                      torch::ones({1, 2, 1}), torch::ones({1, 2, 1}), 2, 1),
               c10::Error);
  const DispatchPlan plan =
      make_token_choice_plan(expert, torch::zeros({1, 2, 1}, torch::kLong), torch::ones({1, 2, 1}),
                             torch::ones({1, 2, 1}), 2, 1);
  EXPECT_THROW(dispatch(plan, torch::ones({1, 5, 3})), c10::Error);
}

}  // namespace
}  // namespace moevit
