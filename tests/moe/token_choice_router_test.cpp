#include "moe/token_choice_router.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

#include "moe/dispatch_plan.h"
#include "moe/gating.h"
#include "moe/routing_stats.h"
#include "moe/slot_assignment.h"
#include "ops/autocast.h"

namespace moevit {
namespace {

// vmoe moe_test GetTopExpertsPerItemDispatcherTest: 3 tokens, 3 experts, K = 2, C = 2.
torch::Tensor vmoe_gates() {
  return torch::tensor({0.4, 0.0, 0.2, 0.5, 0.1, 0.4, 0.3, 0.2, 0.6}, torch::kFloat)
      .reshape({1, 3, 3});
}

TokenChoiceRouting routing_with(int64_t k, int64_t capacity, bool priority) {
  TokenChoiceRouting routing;
  routing.experts_per_token = k;
  routing.capacity = capacity;
  routing.batch_priority = priority;
  return routing;
}

// (expert, slot) of each token's choices.
std::vector<std::vector<std::pair<int64_t, int64_t>>> indices_of(const DispatchPlan& plan) {
  std::vector<std::vector<std::pair<int64_t, int64_t>>> result;
  for (int64_t s = 0; s < plan.tokens_per_group; ++s) {
    result.emplace_back();
    for (int64_t k = 0; k < plan.experts_per_token(); ++k)
      result.back().emplace_back(plan.expert_index[0][s][k].item<int64_t>(),
                                 plan.slot_index[0][s][k].item<int64_t>());
  }
  return result;
}

using Pairs = std::vector<std::vector<std::pair<int64_t, int64_t>>>;

TEST(TokenChoiceRouter, VanillaMatchesVmoeIndices) {
  const DispatchPlan plan = plan_token_choice(vmoe_gates(), routing_with(2, 2, false));
  EXPECT_EQ(indices_of(plan), (Pairs{{{0, 0}, {2, 1}}, {{0, 1}, {2, 2}}, {{2, 0}, {0, 2}}}));
  // Combine weights: the gates, zero where the slot is ≥ capacity.
  const torch::Tensor expected = torch::tensor({0.4, 0.2, 0.5, 0.0, 0.6, 0.0}).reshape({1, 3, 2});
  EXPECT_TRUE(torch::allclose(plan.combine_weight, expected.to(torch::kFloat)));
}

TEST(TokenChoiceRouter, BatchPriorityMatchesVmoeIndices) {
  const DispatchPlan plan = plan_token_choice(vmoe_gates(), routing_with(2, 2, true));
  EXPECT_EQ(indices_of(plan), (Pairs{{{0, 1}, {2, 2}}, {{0, 0}, {2, 1}}, {{2, 0}, {0, 2}}}));
  const torch::Tensor expected = torch::tensor({0.4, 0.0, 0.5, 0.4, 0.6, 0.0}).reshape({1, 3, 2});
  EXPECT_TRUE(torch::allclose(plan.combine_weight, expected.to(torch::kFloat)));
}

TEST(TokenChoiceRouter, GateScaleMultipliesTheKeptCombineWeightsOnly) {
  TokenChoiceRouting routing = routing_with(2, 2, false);
  routing.gate_scale = 8.0;
  const DispatchPlan plan = plan_token_choice(vmoe_gates(), routing);
  // As VanillaMatchesVmoeIndices, times 8; the gates themselves (priorities, statistics) not.
  const torch::Tensor expected = torch::tensor({3.2, 1.6, 4.0, 0.0, 4.8, 0.0}).reshape({1, 3, 2});
  EXPECT_TRUE(torch::allclose(plan.combine_weight, expected.to(torch::kFloat)));
  EXPECT_NEAR(plan.gate.sum().item<double>(), 0.4 + 0.2 + 0.5 + 0.4 + 0.6 + 0.3, 1e-6);
}

TEST(TokenChoiceRouter, ChoiceMajorEveryFirstChoiceBeatsAnySecondChoice) {
  // 4 tokens, E = 2, K = 2: every token's first choice is expert 0, second expert 1... except
  // token 3 whose first choice is expert 1. With C = 1 the second choices of tokens 0-2 can
  // never take expert 1's only slot from token 3's first choice, though they come earlier.
  const torch::Tensor gates =
      torch::tensor({0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.4, 0.6}, torch::kFloat).reshape({1, 4, 2});
  const DispatchPlan plan = plan_token_choice(gates, routing_with(2, 1, false));
  EXPECT_EQ(plan.slot_index[0][3][0].item<int64_t>(), 0);  // token 3, expert 1, first claim
  EXPECT_EQ(plan.slot_index[0][0][0].item<int64_t>(), 0);  // token 0, expert 0
  for (int64_t s = 0; s < 3; ++s) EXPECT_GE(plan.slot_index[0][s][1].item<int64_t>(), 1);
}

TEST(TokenChoiceRouter, NoExpertEverReceivesMoreThanCapacity) {
  torch::manual_seed(3);
  const torch::Tensor gates = torch::softmax(torch::randn({5, 40, 6}) * 3, -1);
  for (int64_t capacity : {1, 3, 7}) {
    for (bool priority : {false, true}) {
      const DispatchPlan plan = plan_token_choice(gates, routing_with(2, capacity, priority));
      const torch::Tensor kept = plan.slot_index < capacity;
      for (int64_t g = 0; g < 5; ++g)
        for (int64_t e = 0; e < 6; ++e) {
          const torch::Tensor on_expert = (plan.expert_index[g] == e) & kept[g];
          EXPECT_LE(on_expert.sum().item<int64_t>(), capacity);
          // Kept slots of one expert are distinct: 0..count-1.
          const torch::Tensor slots = plan.slot_index[g].masked_select(on_expert);
          const torch::Tensor slots_sorted = std::get<0>(slots.sort());
          EXPECT_TRUE(torch::equal(slots_sorted, torch::arange(slots.numel(), torch::kLong)));
        }
      // Dropped assignments have weight exactly 0.
      EXPECT_EQ(plan.combine_weight.masked_select(~kept).abs().sum().item<float>(), 0.0f);
    }
  }
}

TEST(TokenChoiceRouter, PriorityDropsTheLowestTopGatesAndTopKDropsByPosition) {
  // 6 tokens all prefer expert 0 with distinct top gates; E = 2, K = 1, C = 3.
  const std::vector<float> top_gates = {0.55f, 0.9f, 0.6f, 0.95f, 0.7f, 0.65f};
  std::vector<float> values;
  for (float gate : top_gates) values.insert(values.end(), {gate, 1.0f - gate});
  const torch::Tensor gates = torch::tensor(values).reshape({1, 6, 2});
  const auto kept_tokens = [&](bool priority) {
    const DispatchPlan plan = plan_token_choice(gates, routing_with(1, 3, priority));
    std::vector<int64_t> kept;
    for (int64_t s = 0; s < 6; ++s)
      if (plan.slot_index[0][s][0].item<int64_t>() < 3) kept.push_back(s);
    return kept;
  };
  EXPECT_EQ(kept_tokens(/*priority=*/true), (std::vector<int64_t>{1, 3, 4}));   // top 3 gates
  EXPECT_EQ(kept_tokens(/*priority=*/false), (std::vector<int64_t>{0, 1, 2}));  // first 3
}

TEST(TokenChoiceRouter, RenormalisedWeightsSumToOneOverKeptChoices) {
  TokenChoiceRouting routing = routing_with(2, 3, false);
  routing.renormalize_gates = true;
  const DispatchPlan plan = plan_token_choice(vmoe_gates(), routing);
  EXPECT_NEAR(plan.combine_weight[0][0].sum().item<float>(), 1.0f, 1e-6);
  EXPECT_NEAR(plan.combine_weight[0][0][0].item<float>(), 0.4f / 0.6f, 1e-6);
}

TEST(TokenChoiceRouter, RouterLogitsStayFloat32UnderAutocast) {
  // Two experts whose weights differ by 1e-3: bf16 rounds both logits to 1.0 (a tie, so top-k
  // takes expert 0); float32 keeps expert 1 ahead.
  const torch::Tensor tokens = torch::ones({1, 1, 1});
  const torch::Tensor weight = torch::tensor({1.0f, 1.001f}).reshape({1, 2});
  const Bf16AutocastScope autocast(/*cuda=*/false, /*enabled=*/true);
  ASSERT_EQ(torch::matmul(tokens, weight).scalar_type(), torch::kBFloat16);  // autocast is on
  const torch::Tensor logits = router_logits_fp32(tokens, weight);
  EXPECT_EQ(logits.scalar_type(), torch::kFloat);
  EXPECT_EQ(logits.argmax(-1).item<int64_t>(), 1);
  EXPECT_FLOAT_EQ(logits[0][0][1].item<float>(), 1.001f);
}

TEST(TokenChoiceRouter, NoiseOnlyInTrainingAndSeedDeterminesIt) {
  const torch::Tensor logits = torch::randn({2, 16, 4});
  TokenChoiceRouting routing = routing_with(1, 16, false);
  routing.noise_std = 4.0;  // σ = 1 per logit: decisions do change
  const RouterOutput eval_a = route_token_choice(logits, routing, /*training=*/false);
  const RouterOutput eval_b = route_token_choice(logits, routing, /*training=*/false);
  EXPECT_TRUE(torch::equal(eval_a.plan.gate, eval_b.plan.gate));
  EXPECT_TRUE(
      torch::allclose(eval_a.plan.gate, std::get<0>(torch::softmax(logits, -1).topk(1, -1))));
  torch::manual_seed(7);
  const RouterOutput train_a = route_token_choice(logits, routing, /*training=*/true);
  torch::manual_seed(7);
  const RouterOutput train_b = route_token_choice(logits, routing, /*training=*/true);
  EXPECT_TRUE(torch::equal(train_a.plan.gate, train_b.plan.gate));
  EXPECT_FALSE(torch::allclose(train_a.plan.gate, eval_a.plan.gate));
}

TEST(TokenChoiceRouter, StatisticsCountKeptAndDroppedAssignments) {
  const DispatchPlan plan = plan_token_choice(vmoe_gates(), routing_with(2, 2, false));
  const RoutingStats stats = routing_stats(plan);
  EXPECT_EQ(stats.assignments, 6);
  EXPECT_EQ(stats.dropped, 2);
  EXPECT_DOUBLE_EQ(stats.dropped_fraction, 2.0 / 6.0);
  EXPECT_TRUE(torch::equal(stats.expert_load, torch::tensor({2.0, 0.0, 2.0}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(stats.expert_requested, torch::tensor({3.0, 0.0, 3.0}, torch::kDouble)));
  EXPECT_EQ(stats.tokens_unprocessed, 0);
  EXPECT_DOUBLE_EQ(stats.load_share_max(), 0.5);
  EXPECT_DOUBLE_EQ(stats.load_share_min(), 0.0);
  // Top gates 0.4, 0.5, 0.6; kept combine weights 0.4 + 0.2, 0.5, 0.6 (two choices dropped).
  EXPECT_NEAR(stats.mean_top_gate(), 1.5 / 3, 1e-6);
  EXPECT_NEAR(stats.mean_token_weight(), 1.7 / 3, 1e-6);
  RoutingStats twice = stats;
  twice += stats;
  EXPECT_NEAR(twice.mean_token_weight(), 1.7 / 3, 1e-6);
}

// Probabilities [1,S,E] whose argmax is `expert_of_token[s]` for token s.
torch::Tensor probs_choosing(const std::vector<int64_t>& expert_of_token, int64_t num_experts) {
  const int64_t tokens = static_cast<int64_t>(expert_of_token.size());
  torch::Tensor logits = torch::zeros({1, tokens, num_experts});
  for (int64_t s = 0; s < tokens; ++s) logits[0][s][expert_of_token[s]] = 2.0f;
  return torch::softmax(logits, -1);
}

TEST(TokenChoiceRouter, ConcentrationIsTheMostAskedExpertsShareOfTokens) {
  // 8 tokens, 4 experts, k = 1, capacity 2: 6 tokens ask expert 3, one each experts 0 and 1.
  const RoutingStats skewed = routing_stats(
      plan_token_choice(probs_choosing({3, 3, 0, 3, 3, 1, 3, 3}, 4), routing_with(1, 2, false)));
  EXPECT_DOUBLE_EQ(skewed.top_expert_token_share(), 6.0 / 8);
  EXPECT_EQ(skewed.top_expert(), 3);
  EXPECT_EQ(skewed.dropped, 4);        // requests count whether kept or not
  EXPECT_TRUE(skewed.concentrated());  // 0.75 > max(1/2, 2/4)

  // Exactly half on one expert is not yet concentrated (the bound is strict).
  const RoutingStats half = routing_stats(
      plan_token_choice(probs_choosing({2, 2, 2, 2, 0, 1, 3, 0}, 4), routing_with(1, 2, false)));
  EXPECT_DOUBLE_EQ(half.top_expert_token_share(), 0.5);
  EXPECT_FALSE(half.concentrated());

  const RoutingStats balanced = routing_stats(
      plan_token_choice(probs_choosing({0, 1, 2, 3, 0, 1, 2, 3}, 4), routing_with(1, 2, false)));
  EXPECT_DOUBLE_EQ(balanced.top_expert_token_share(), 0.25);
  EXPECT_FALSE(balanced.concentrated());
}

TEST(TokenChoiceRouter, ConcentrationBoundGrowsWithK) {
  // k = 2 of 4 experts: every token asks two, balanced is 1/2 per expert, the bound 2k/E = 1
  // cannot be passed; every token asking expert 3 is not flagged.
  const RoutingStats stats = routing_stats(
      plan_token_choice(probs_choosing({3, 3, 3, 3, 3, 3, 3, 3}, 4), routing_with(2, 8, false)));
  EXPECT_DOUBLE_EQ(stats.top_expert_token_share(), 1.0);
  EXPECT_FALSE(stats.concentrated());
}

// The CPU loop and the tensor-op count (the path off the CPU) give the same slots, with and
// without a priority order, for several K.
TEST(TokenChoiceRouter, SlotLoopAndTensorOpsAgree) {
  torch::manual_seed(11);
  for (int64_t choices : {1, 2, 3}) {
    const torch::Tensor expert_index = torch::randint(0, 5, {4, 30, choices}, torch::kLong);
    const torch::Tensor order = torch::rand({4, 30}).argsort(/*dim=*/1, /*descending=*/false);
    EXPECT_TRUE(
        torch::equal(assign_slots(expert_index, 5), assign_slots_by_tensor_ops(expert_index, 5)))
        << choices;
    EXPECT_TRUE(torch::equal(assign_slots(expert_index, 5, order),
                             assign_slots_by_tensor_ops(expert_index, 5, order)))
        << choices;
  }
}

// One token, four experts, sigmoid affinities 0.5, 0.75, 0.25, 0.6 (not a distribution).
torch::Tensor sigmoid_scores() {
  return torch::tensor({0.5f, 0.75f, 0.25f, 0.6f}).reshape({1, 1, 4});
}

TEST(TokenChoiceRouter, SigmoidGateRenormalisesOverTheChosenExpertsThenScales) {
  TokenChoiceRouting routing = routing_with(2, 1, false);
  routing.gate = GateFunction::kSigmoid;  // renormalize_gates stays false: sigmoid does it anyway
  routing.gate_scale = 2.0;
  const DispatchPlan plan = plan_token_choice(sigmoid_scores(), routing);
  EXPECT_TRUE(
      torch::equal(plan.expert_index, torch::tensor({1, 3}, torch::kLong).reshape({1, 1, 2})));
  // Weights s_i / (s_1 + s_2) · gate_scale = 0.75/1.35 · 2, 0.6/1.35 · 2; the gates stay the
  // scores.
  EXPECT_TRUE(
      torch::allclose(plan.combine_weight,
                      torch::tensor({0.75f / 1.35f * 2, 0.6f / 1.35f * 2}).reshape({1, 1, 2})));
  EXPECT_TRUE(torch::equal(plan.gate, torch::tensor({0.75f, 0.6f}).reshape({1, 1, 2})));
  // K = 1 never renormalises (the weight would be 1 and the router get no task gradient).
  const DispatchPlan top1 = plan_token_choice(sigmoid_scores(), [&] {
    TokenChoiceRouting one = routing;
    one.experts_per_token = 1;
    return one;
  }());
  EXPECT_FLOAT_EQ(top1.combine_weight.item<float>(), 0.75f * 2);
  // A softmax gate is not renormalised unless asked.
  routing.gate = GateFunction::kSoftmax;
  EXPECT_TRUE(torch::allclose(plan_token_choice(sigmoid_scores(), routing).combine_weight,
                              torch::tensor({1.5f, 1.2f}).reshape({1, 1, 2})));
}

TEST(TokenChoiceRouter, SigmoidRenormalisesOverChosenNotKeptExperts) {
  // Token 0 chooses experts 1 (0.75) and 3 (0.6), token 1 experts 1 (0.75) and 0 (0.7). C = 1:
  // token 1's first choice drops (token 0 holds expert 1's slot), its second is kept and keeps
  // the weight 0.7 / (0.75 + 0.7) it had among the chosen, not 1.
  const torch::Tensor scores =
      torch::tensor({0.5f, 0.75f, 0.25f, 0.6f, 0.7f, 0.75f, 0.25f, 0.6f}).reshape({1, 2, 4});
  TokenChoiceRouting routing = routing_with(2, 1, false);
  routing.gate = GateFunction::kSigmoid;
  const DispatchPlan plan = plan_token_choice(scores, routing);
  EXPECT_EQ(indices_of(plan), (Pairs{{{1, 0}, {3, 0}}, {{1, 1}, {0, 0}}}));
  EXPECT_TRUE(torch::allclose(
      plan.combine_weight,
      torch::tensor({0.75f / 1.35f, 0.6f / 1.35f, 0.f, 0.7f / 1.45f}).reshape({1, 2, 2})));
}

TEST(TokenChoiceRouter, ExpertBiasChangesTheChoiceButNotTheWeights) {
  TokenChoiceRouting routing = routing_with(2, 1, false);
  routing.gate = GateFunction::kSigmoid;
  // Scores + bias = 0.5, 0.25, 0.75, 0.6: experts 2 and 3 are chosen instead of 1 and 3, and
  // listed best first by their unbiased scores (0.6 before 0.25).
  routing.expert_bias = torch::tensor({0.0f, -0.5f, 0.5f, 0.0f});
  const torch::Tensor scores = sigmoid_scores().requires_grad_();
  const DispatchPlan plan = plan_token_choice(scores, routing);
  EXPECT_TRUE(
      torch::equal(plan.expert_index, torch::tensor({3, 2}, torch::kLong).reshape({1, 1, 2})));
  // Gates and weights are the unbiased scores 0.6 and 0.25, renormalised.
  EXPECT_TRUE(torch::equal(plan.gate.detach(), torch::tensor({0.6f, 0.25f}).reshape({1, 1, 2})));
  EXPECT_TRUE(torch::allclose(plan.combine_weight.detach(),
                              torch::tensor({0.6f / 0.85f, 0.25f / 0.85f}).reshape({1, 1, 2})));
  // The weights' gradient reaches the scores of the chosen experts only.
  plan.combine_weight.select(2, 1).sum().backward();
  const torch::Tensor grad = scores.grad().reshape(-1);
  EXPECT_EQ(grad[0].item<float>(), 0.0f);
  EXPECT_EQ(grad[1].item<float>(), 0.0f);
  EXPECT_NEAR(grad[2].item<float>(), 0.6f / (0.85f * 0.85f), 1e-5);    // d(a/(a+b))/da
  EXPECT_NEAR(grad[3].item<float>(), -0.25f / (0.85f * 0.85f), 1e-5);  // d(a/(a+b))/db
}

TEST(TokenChoiceRouter, TopPTakesTheShortestPrefixReachingP) {
  const torch::Tensor gates = torch::tensor({0.5f, 0.3f, 0.2f}).reshape({1, 1, 3});
  const auto taken = [&](const torch::Tensor& gate, double p) {
    return top_p_choices(gate, p).sum().item<int64_t>();
  };
  EXPECT_EQ(taken(gates, 0.7), 2);  // 0.5 < 0.7 ≤ 0.5 + 0.3
  EXPECT_EQ(taken(gates, 0.5), 1);  // the first gate reaches p on its own
  EXPECT_EQ(taken(gates, 0.8), 2);  // exactly 0.5 + 0.3: reached, no third
  EXPECT_EQ(taken(gates, 0.9), 3);
  EXPECT_EQ(taken(gates, 0.1), 1);  // always the first
  EXPECT_EQ(taken(gates, 1.0), 3);
  // Never more than the K choices there are: p = 1 with K = 2 takes both.
  EXPECT_EQ(taken(gates.narrow(2, 0, 2), 1.0), 2);
  EXPECT_TRUE(torch::equal(top_p_choices(gates, 0.7),
                           torch::tensor({true, true, false}).reshape({1, 1, 3})));
}

// Token 0: gates 0.8, 0.15, 0.05 on experts 0, 1, 2; token 1: 0.2, 0.35, 0.45. With top-p 0.7
// token 0 takes expert 0 only, token 1 experts 2 and 1.
torch::Tensor top_p_scores() {
  return torch::tensor({0.8f, 0.15f, 0.05f, 0.2f, 0.35f, 0.45f}).reshape({1, 2, 3});
}

TEST(TokenChoiceRouter, TopPChoicesNotTakenGetSlotMinusOneWeightZeroAndClaimNoCapacity) {
  TokenChoiceRouting routing = routing_with(3, 1, false);
  routing.top_p = 0.7;
  const DispatchPlan plan = plan_token_choice(top_p_scores(), routing);
  EXPECT_EQ(indices_of(plan), (Pairs{{{0, 0}, {1, -1}, {2, -1}}, {{2, 0}, {1, 0}, {0, -1}}}));
  EXPECT_TRUE(torch::equal(plan.combine_weight,
                           torch::tensor({0.8f, 0.f, 0.f, 0.45f, 0.35f, 0.f}).reshape({1, 2, 3})));
  // Without top-p, token 0's second choice (expert 1) claims expert 1's only slot first, and
  // token 1's, taken with top-p, drops.
  routing.top_p = 0;
  const DispatchPlan all = plan_token_choice(top_p_scores(), routing);
  EXPECT_EQ(all.slot_index[0][1][1].item<int64_t>(), 1);
  EXPECT_EQ(all.combine_weight[0][1][1].item<float>(), 0.0f);
  // K = 1 ignores top-p (the first choice is always taken).
  TokenChoiceRouting top1 = routing_with(1, 1, false);
  top1.top_p = 0.7;
  EXPECT_FALSE(plan_token_choice(top_p_scores(), top1).slot_index.lt(0).any().item<bool>());
}

TEST(TokenChoiceRouter, TopPSigmoidRenormalisesOverTheTakenChoices) {
  TokenChoiceRouting routing = routing_with(3, 2, false);
  routing.top_p = 0.7;
  routing.gate = GateFunction::kSigmoid;
  const DispatchPlan plan = plan_token_choice(top_p_scores(), routing);
  EXPECT_TRUE(torch::allclose(
      plan.combine_weight,
      torch::tensor({1.f, 0.f, 0.f, 0.45f / 0.8f, 0.35f / 0.8f, 0.f}).reshape({1, 2, 3})));
}

// Sigmoid scores do not sum to 1: top-p reads them divided by their sum. Scores 0.9, 0.8, 0.1
// are 0.5, 0.44, 0.06 of 1.8, so p = 0.7 takes two experts (raw, 0.9 alone would reach it).
TEST(TokenChoiceRouter, TopPSigmoidReadsTheScoresAsShares) {
  TokenChoiceRouting routing = routing_with(3, 2, false);
  routing.top_p = 0.7;
  routing.gate = GateFunction::kSigmoid;
  const DispatchPlan plan =
      plan_token_choice(torch::tensor({0.9f, 0.8f, 0.1f}).reshape({1, 1, 3}), routing);
  EXPECT_TRUE(
      torch::equal(plan.slot_index.ge(0), torch::tensor({true, true, false}).reshape({1, 1, 3})));
  EXPECT_TRUE(torch::allclose(plan.combine_weight,
                              torch::tensor({0.9f / 1.7f, 0.8f / 1.7f, 0.f}).reshape({1, 1, 3})));
  routing.top_p = 0.4;  // 0.5 ≥ 0.4: one expert, weight 1 after renormalising
  EXPECT_EQ(plan_token_choice(torch::tensor({0.9f, 0.8f, 0.1f}).reshape({1, 1, 3}), routing)
                .slot_index.ge(0)
                .sum()
                .item<int64_t>(),
            1);
}

TEST(TokenChoiceRouter, StatisticsCountOnlyTheTakenChoices) {
  TokenChoiceRouting routing = routing_with(3, 1, false);
  routing.top_p = 0.7;
  const RoutingStats stats = routing_stats(plan_token_choice(top_p_scores(), routing));
  EXPECT_EQ(stats.assignments, 3);
  EXPECT_EQ(stats.dropped, 0);
  EXPECT_TRUE(torch::equal(stats.expert_requested, torch::tensor({1.0, 1.0, 1.0}, torch::kDouble)));
  EXPECT_TRUE(torch::equal(stats.expert_load, stats.expert_requested));
  EXPECT_EQ(stats.tokens_by_expert_count[0], 0);
  EXPECT_EQ(stats.tokens_by_expert_count[1], 1);
  EXPECT_EQ(stats.tokens_by_expert_count[2], 1);
  EXPECT_DOUBLE_EQ(stats.mean_experts_per_token(), 1.5);
  EXPECT_DOUBLE_EQ(stats.reached_fraction(), 1.0);
  // All three choices taken: 6 assignments; with C = 1 token 1's second choice (expert 1, after
  // token 0's) and both third choices (experts 2 and 0, whose slots first choices hold) drop.
  routing.top_p = 0;
  const RoutingStats all = routing_stats(plan_token_choice(top_p_scores(), routing));
  EXPECT_EQ(all.assignments, 6);
  EXPECT_EQ(all.dropped, 3);
  EXPECT_EQ(all.tokens_by_expert_count[1], 1);
  EXPECT_EQ(all.tokens_by_expert_count[2], 1);
}

TEST(TokenChoiceRouter, StatisticsOfACapacityZeroPlanReachNoToken) {
  const DispatchPlan plan = plan_token_choice(vmoe_gates(), routing_with(2, 0, false));
  const RoutingStats stats = routing_stats(plan);
  EXPECT_EQ(stats.assignments, 6);
  EXPECT_EQ(stats.dropped, 6);
  EXPECT_EQ(stats.tokens_by_expert_count[0], 3);
  EXPECT_EQ(stats.routed_tokens, 3);
  EXPECT_EQ(stats.reached_tokens, 0);
  EXPECT_DOUBLE_EQ(stats.reached_fraction(), 0.0);
  EXPECT_DOUBLE_EQ(stats.mean_experts_per_token(), 0.0);
  EXPECT_EQ(plan.combine_weight.abs().sum().item<float>(), 0.0f);
}

TEST(TokenChoiceRouter, ChoicesNotTakenClaimNoSlotInBothSlotAssignments) {
  // 3 tokens, K = 2, E = 2; token 0 takes only its first choice. Token order: expert 0 gets
  // tokens 0, 1 (slots 0, 1); second choices: token 1 → expert 1 slot 1 (token 2's first choice
  // holds slot 0), token 2 → expert 0 slot 2.
  const torch::Tensor expert_index =
      torch::tensor({0, 1, 0, 1, 1, 0}, torch::kLong).reshape({1, 3, 2});
  const torch::Tensor chosen =
      torch::tensor({true, false, true, true, true, true}).reshape({1, 3, 2});
  const torch::Tensor expected =
      torch::tensor({0, -1, 1, 1, 0, 2}, torch::kLong).reshape({1, 3, 2});
  EXPECT_TRUE(torch::equal(assign_slots(expert_index, 2, {}, chosen), expected));
  EXPECT_TRUE(torch::equal(assign_slots_by_tensor_ops(expert_index, 2, {}, chosen), expected));
  // In priority order 2, 1, 0: expert 0 gets tokens 1, 0 (slots 0, 1) then token 2's second
  // choice (slot 2); expert 1 gets token 2 (slot 0) then token 1's second choice (slot 1).
  const torch::Tensor order = torch::tensor({2, 1, 0}, torch::kLong).reshape({1, 3});
  const torch::Tensor prioritised =
      torch::tensor({1, -1, 0, 1, 0, 2}, torch::kLong).reshape({1, 3, 2});
  EXPECT_TRUE(torch::equal(assign_slots(expert_index, 2, order, chosen), prioritised));
  EXPECT_TRUE(
      torch::equal(assign_slots_by_tensor_ops(expert_index, 2, order, chosen), prioritised));
}

TEST(TokenChoiceRouter, SlotLoopAndTensorOpsAgreeWithAChosenMask) {
  torch::manual_seed(12);
  for (int64_t choices : {1, 2, 3}) {
    const torch::Tensor expert_index = torch::randint(0, 5, {4, 30, choices}, torch::kLong);
    const torch::Tensor order = torch::rand({4, 30}).argsort(/*dim=*/1, /*descending=*/false);
    const torch::Tensor chosen = torch::rand({4, 30, choices}) < 0.6;
    for (const torch::Tensor& priority : {torch::Tensor(), order}) {
      const torch::Tensor loop = assign_slots(expert_index, 5, priority, chosen);
      EXPECT_TRUE(torch::equal(loop, assign_slots_by_tensor_ops(expert_index, 5, priority, chosen)))
          << choices;
      EXPECT_TRUE(torch::equal(loop.lt(0), ~chosen)) << choices;  // -1 exactly where not taken
      // The taken choices' slots are what they would be had the others never been there.
      const torch::Tensor alone = assign_slots(
          torch::where(chosen, expert_index, torch::full({}, 5, torch::kLong)), 6, priority);
      EXPECT_TRUE(torch::equal(loop.masked_select(chosen), alone.masked_select(chosen))) << choices;
    }
  }
}

}  // namespace
}  // namespace moevit
