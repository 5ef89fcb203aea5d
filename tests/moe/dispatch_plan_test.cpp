#include "moe/dispatch_plan.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "moe/experts.h"
#include "moe/slot_assignment.h"

namespace moevit {
namespace {

// G = 2 groups, S = 3 tokens, K = 1, E = 2, C = 2, one assignment over capacity.
DispatchPlan small_plan(RowLayout layout = RowLayout::kPadded) {
  const torch::Tensor expert = torch::tensor({0, 1, 0, 1, 1, 1}, torch::kLong).reshape({2, 3, 1});
  const torch::Tensor slot = torch::tensor({0, 0, 1, 0, 1, 2}, torch::kLong).reshape({2, 3, 1});
  const torch::Tensor gate = torch::tensor({.5f, .6f, .7f, .8f, .9f, 1.f}).reshape({2, 3, 1});
  return make_token_choice_plan(expert, slot, gate, gate, /*experts=*/2, /*capacity=*/2, layout);
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

TEST(DispatchPlan, PackedRowsHoldOnlyTheFilledSlotsExpertByExpert) {
  const DispatchPlan plan = small_plan(RowLayout::kPacked);
  EXPECT_EQ(plan.rows_per_expert, (std::vector<int64_t>{2, 3}));
  // The padded rows of the test above without their empty slots: expert 0 (token 1, token 3),
  // expert 1 (token 2, token 4, token 5); token 6 is still dropped.
  EXPECT_TRUE(torch::equal(plan.token_of_slot, torch::tensor({0, 2, 1, 3, 4}, torch::kLong)));
  EXPECT_TRUE(torch::equal(plan.slot_of_choice.reshape(-1),
                           torch::tensor({0, 2, 1, 3, 4, -1}, torch::kLong)));
  const torch::Tensor tokens = torch::arange(1, 7, torch::kFloat).reshape({2, 3, 1});
  const torch::Tensor buffers = dispatch(plan, tokens);
  EXPECT_TRUE(torch::equal(buffers, torch::tensor({1.f, 3.f, 2.f, 4.f, 5.f}).reshape({5, 1})));
  EXPECT_TRUE(
      torch::allclose(combine(plan, buffers * 10),
                      torch::tensor({5.f, 12.f, 21.f, 32.f, 45.f, 0.f}).reshape({2, 3, 1})));
  EXPECT_THROW(combine(plan, torch::ones({2, 4, 1})), c10::Error);  // a padded buffer
}

TEST(DispatchPlan, PackedAndPaddedLayoutsGiveTheSameOutputsAndGradients) {
  // G = 3 groups of S = 10 tokens, K = 2 of E = 4 experts, capacity 4: some slots stay empty,
  // some choices are dropped.
  torch::manual_seed(5);
  const torch::Tensor probs = torch::rand({3, 10, 4}).softmax(-1);
  const auto [gate, expert] = probs.topk(2, -1);
  const torch::Tensor slot = assign_slots(expert, 4, torch::Tensor());
  Experts experts(/*num_experts=*/4, /*dim=*/6, /*hidden_dim=*/5);
  const torch::Tensor tokens = torch::randn({3, 10, 6});
  std::vector<torch::Tensor> outputs, gradients;
  for (RowLayout layout : {RowLayout::kPadded, RowLayout::kPacked}) {
    const torch::Tensor leaf_tokens = tokens.clone().requires_grad_();
    const torch::Tensor weights = gate.clone().requires_grad_();
    const DispatchPlan plan = make_token_choice_plan(expert, slot, gate, weights, 4, 4, layout);
    experts->zero_grad();
    const torch::Tensor output =
        combine(plan, experts->forward(dispatch(plan, leaf_tokens), plan.rows_per_expert));
    (output * output).sum().backward();
    outputs.push_back(output);
    gradients.insert(gradients.end(), {leaf_tokens.grad(), weights.grad()});
    for (const torch::Tensor& parameter : experts->parameters())
      gradients.push_back(parameter.grad().clone());
  }
  ASSERT_GT((slot >= 4).sum().item<int64_t>(), 0);  // the case has drops
  EXPECT_TRUE(torch::allclose(outputs[0], outputs[1], 1e-5, 1e-6));
  const size_t half = gradients.size() / 2;
  for (size_t i = 0; i < half; ++i)
    EXPECT_TRUE(torch::allclose(gradients[i], gradients[half + i], 1e-4, 1e-5)) << "gradient " << i;
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

TEST(DispatchPlan, ChoicesNotTakenAreNeitherDispatchedNorCombined) {
  // S = 3, K = 2, E = 2, C = 2; slot -1 = not taken (top-p, or an expert that did not pick the
  // token). Token 0 takes expert 0 only, token 1 both, token 2 expert 1 only.
  const torch::Tensor expert = torch::tensor({0, 1, 1, 0, 1, 0}, torch::kLong).reshape({1, 3, 2});
  const torch::Tensor slot = torch::tensor({0, -1, 0, 1, 1, -1}, torch::kLong).reshape({1, 3, 2});
  const torch::Tensor gate = torch::full({1, 3, 2}, 0.5f);
  const torch::Tensor tokens = torch::arange(1, 4, torch::kFloat).reshape({1, 3, 1});
  for (const RowLayout layout : {RowLayout::kPadded, RowLayout::kPacked}) {
    const DispatchPlan plan = make_token_choice_plan(expert, slot, gate, gate, 2, 2, layout);
    EXPECT_TRUE(torch::equal(plan.combine_weight,
                             torch::tensor({.5f, 0.f, .5f, .5f, .5f, 0.f}).reshape({1, 3, 2})));
    EXPECT_TRUE(
        torch::equal(plan.slot_of_choice.lt(0),
                     torch::tensor({false, true, false, false, false, true}).reshape({3, 2})));
    // Expert 0: tokens 0, 1; expert 1: tokens 1, 2 (every row filled, so both layouts agree).
    const torch::Tensor buffers = dispatch(plan, tokens);
    EXPECT_TRUE(torch::equal(buffers.reshape(-1), torch::tensor({1.f, 2.f, 2.f, 3.f})));
    EXPECT_TRUE(torch::allclose(combine(plan, buffers * 10),
                                torch::tensor({5.f, 20.f, 15.f}).reshape({1, 3, 1})));
  }
}

TEST(DispatchPlan, CapacityZeroDispatchesNothingAndCombinesToZero) {
  const torch::Tensor expert = torch::tensor({0, 1, 1, 0}, torch::kLong).reshape({2, 2, 1});
  const torch::Tensor slot = torch::zeros({2, 2, 1}, torch::kLong);
  const torch::Tensor gate = torch::full({2, 2, 1}, 0.5f);
  const torch::Tensor tokens = torch::randn({2, 2, 3});
  Experts experts(2, 3, 4);
  for (const RowLayout layout : {RowLayout::kPadded, RowLayout::kPacked}) {
    const DispatchPlan plan =
        make_token_choice_plan(expert, slot, gate, gate, /*experts=*/2, /*capacity=*/0, layout);
    EXPECT_EQ(plan.combine_weight.abs().sum().item<float>(), 0.0f);
    EXPECT_TRUE(torch::equal(plan.slot_of_choice, torch::full({4, 1}, -1, torch::kLong)));
    EXPECT_EQ(plan.token_of_slot.numel(), 0);
    const torch::Tensor buffers = dispatch(plan, tokens);
    EXPECT_EQ(buffers.numel(), 0);
    const torch::Tensor output = combine(plan, experts->forward(buffers, plan.rows_per_expert));
    EXPECT_TRUE(torch::equal(output, torch::zeros({2, 2, 3})));
  }
}

}  // namespace
}  // namespace moevit
