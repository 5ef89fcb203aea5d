#include "moe/aux_losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "moe/gating.h"

namespace moevit {
namespace {

// vmoe routing_test: one 4×3 gate matrix (a single group).
torch::Tensor vmoe_gates() {
  return torch::tensor({.5, .4, .1, .3, .3, .4, .1, .2, .7, .8, .2, .0}, torch::kFloat)
      .reshape({1, 4, 3});
}

TEST(AuxLosses, ImportanceMatchesVmoe) {
  // Σ gates per expert = [1.7, 1.1, 1.2]; (std/mean)² = 0.03874999 (population std).
  EXPECT_NEAR(importance_loss(vmoe_gates()).item<double>(), 0.03874999, 1e-6);
}

TEST(AuxLosses, SwitchBalanceMatchesVmoeGshard) {
  // f = [2, 0, 2]/4, P = [1.7, 1.1, 1.2]/4, E·Σ f·P = 1.0875.
  EXPECT_NEAR(switch_balance_loss(vmoe_gates()).item<double>(), 1.0875, 1e-6);
}

TEST(AuxLosses, SwitchBalanceWithGlobalSharesUsesThemAndTheLocalMeanGate) {
  // Two groups: the vmoe matrix and a second one; P over all 8 tokens, f given.
  const torch::Tensor second =
      torch::tensor({.2, .2, .6, .1, .8, .1, .3, .3, .4, .6, .2, .2}, torch::kFloat)
          .reshape({1, 4, 3});
  const torch::Tensor probs = torch::cat({vmoe_gates(), second}, 0);
  const torch::Tensor shares = torch::tensor({0.5, 0.25, 0.25});
  // P = ([1.7, 1.1, 1.2] + [1.2, 1.3, 1.5]) / 8 = [0.3625, 0.3, 0.3375];
  // 3 · (0.5·0.3625 + 0.25·0.3 + 0.25·0.3375) = 3 · 0.340625 = 1.021875:
  EXPECT_NEAR(switch_balance_loss(probs, shares).item<double>(), 1.021875, 1e-6);
  // The shares are constants: the gradient reaches the gates only through P.
  const torch::Tensor leaf = probs.clone().requires_grad_();
  const torch::Tensor learned_shares = shares.clone().requires_grad_();
  switch_balance_loss(leaf, learned_shares).backward();
  EXPECT_FALSE(learned_shares.grad().defined());
  EXPECT_TRUE(torch::allclose(leaf.grad()[1][2], 3 * shares / 8));
}

TEST(AuxLosses, LoadMatchesVmoe) {
  const torch::Tensor logits =
      torch::tensor({.9, .06, .04, .7, .18, .12, .85, .05, .1}, torch::kFloat).reshape({1, 3, 3});
  const torch::Tensor noise =
      torch::tensor({-.037, .026, -.018, -.074, .045, -.015, -.067, -.059, .073}, torch::kFloat)
          .reshape({1, 3, 3});
  EXPECT_NEAR(load_loss(logits, logits + noise, /*noise_std=*/0.1, /*k=*/2).item<double>(),
              0.48573864536489236, 1e-6);
}

TEST(AuxLosses, UniformRoutingIsTheKnownMinimum) {
  const torch::Tensor logits = torch::zeros({2, 8, 4});
  const torch::Tensor probs = torch::softmax(logits, -1);
  EXPECT_NEAR(importance_loss(probs).item<double>(), 0.0, 1e-9);
  EXPECT_NEAR(load_loss(logits, logits, 0.25, 1).item<double>(), 0.0, 1e-9);
  // With uniform gates E·Σ f·(1/E) = Σ f = 1 whatever f: the balanced value.
  EXPECT_NEAR(switch_balance_loss(probs).item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(router_z_loss(logits).item<double>(), std::pow(std::log(4.0), 2), 1e-6);
}

TEST(AuxLosses, AveragedOverGroups) {
  // Group 0 is the vmoe matrix, group 1 is balanced: the mean of 0.03874999 and 0.
  const torch::Tensor balanced = torch::full({1, 4, 3}, 1.0 / 3.0);
  const torch::Tensor gates = torch::cat({vmoe_gates(), balanced}, 0);
  EXPECT_NEAR(importance_loss(gates).item<double>(), 0.03874999 / 2, 1e-6);
}

TEST(AuxLosses, WeightedTotalAndLoadEqualsImportanceWithoutNoise) {
  const torch::Tensor logits = torch::randn({3, 10, 4});
  const Gates gates = compute_gates(logits, /*noise_std=*/1.0, /*training=*/false);
  AuxLossWeights weights;
  weights.importance = 0.5;
  weights.load = 0.25;
  weights.switch_balance = 0.125;
  weights.z_loss = 2.0;
  const AuxLosses losses = token_choice_aux_losses(gates, 2, weights);
  EXPECT_TRUE(torch::equal(losses.load, losses.importance));
  const double expected =
      0.5 * losses.importance.item<double>() + 0.25 * losses.load.item<double>() +
      0.125 * losses.switch_balance.item<double>() + 2.0 * losses.z_loss.item<double>();
  EXPECT_NEAR(losses.total.item<double>(), expected, 1e-5);
}

TEST(AuxLosses, UnweightedTermsAreSkippedAndReportedAsZero) {
  const torch::Tensor logits = torch::randn({3, 10, 4});
  const Gates gates = compute_gates(logits, /*noise_std=*/1.0, /*training=*/false);
  AuxLossWeights weights;
  weights.importance = 0;
  weights.load = 0.25;  // without noise the load loss is the importance loss
  weights.switch_balance = 0;
  weights.z_loss = 0;
  const AuxLosses losses = token_choice_aux_losses(gates, 1, weights);
  EXPECT_NEAR(losses.load.item<double>(), importance_loss(gates.clean_probs).item<double>(), 1e-7);
  EXPECT_EQ(losses.switch_balance.item<double>(), 0.0);
  EXPECT_EQ(losses.z_loss.item<double>(), 0.0);
  EXPECT_NEAR(losses.total.item<double>(), 0.25 * losses.load.item<double>(), 1e-7);
}

TEST(AuxLosses, LossesAreFiniteAndDifferentiableUnderNoise) {
  torch::manual_seed(0);
  const torch::Tensor logits = torch::randn({2, 16, 8}, torch::requires_grad());
  const Gates gates = compute_gates(logits, 1.0, /*training=*/true);
  const AuxLosses losses = token_choice_aux_losses(gates, 2, AuxLossWeights{1, 1, 1, 1});
  for (const torch::Tensor& term :
       {losses.importance, losses.load, losses.switch_balance, losses.z_loss, losses.total})
    EXPECT_TRUE(std::isfinite(term.item<double>()));
  losses.total.backward();
  EXPECT_GT(logits.grad().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace moevit
