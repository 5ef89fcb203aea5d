#include "moe/bias_balance.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "moe/token_choice_router.h"

namespace moevit {
namespace {

TEST(BiasBalance, OverloadedExpertsGoDownUnderloadedUpByExactlyTheRate) {
  // Loads 4, 1, 2, 1: mean 2. Expert 0 is overloaded, 1 and 3 underloaded, 2 exactly at the mean.
  torch::Tensor bias = torch::zeros({4});
  const torch::Tensor load = torch::tensor({4.0, 1.0, 2.0, 1.0}, torch::kDouble);
  update_expert_bias(bias, load, /*rate=*/0.1);
  EXPECT_TRUE(torch::equal(bias, torch::tensor({-0.1f, 0.1f, 0.0f, 0.1f})));
  // The step is the rate whatever the size of the imbalance (sign, not difference).
  update_expert_bias(bias, torch::tensor({100.0, 0.0, 50.0, 50.0}, torch::kDouble), 0.1);
  EXPECT_TRUE(torch::equal(bias, torch::tensor({-0.2f, 0.2f, 0.0f, 0.1f})));
}

TEST(BiasBalance, BalancedLoadsLeaveTheBiasUntouched) {
  torch::Tensor bias = torch::tensor({0.3f, -0.2f, 0.0f});
  const torch::Tensor before = bias.clone();
  update_expert_bias(bias, torch::tensor({5, 5, 5}, torch::kLong), 0.5);  // any dtype
  EXPECT_TRUE(torch::equal(bias, before));
  // A zero rate never moves it either.
  update_expert_bias(bias, torch::tensor({9, 0, 0}, torch::kLong), 0.0);
  EXPECT_TRUE(torch::equal(bias, before));
}

TEST(BiasBalance, RefusesLoadsOfAnotherLength) {
  torch::Tensor bias = torch::zeros({4});
  try {
    update_expert_bias(bias, torch::ones({3}), 0.1);
    FAIL() << "expected an error";
  } catch (const c10::Error& error) {
    EXPECT_NE(std::string(error.what_without_backtrace())
                  .find("update_expert_bias: expected one load per expert (4), got [3]"),
              std::string::npos)
        << error.what_without_backtrace();
  }
}

TEST(BiasBalance, ChosenCountsIncludeDroppedChoicesButNotUntakenOnes) {
  // vmoe's 3 tokens, 3 experts, K = 2, C = 2: experts 0 and 2 are each asked three times and
  // keep two; the counts are the requests.
  const torch::Tensor gates =
      torch::tensor({0.4f, 0.0f, 0.2f, 0.5f, 0.1f, 0.4f, 0.3f, 0.2f, 0.6f}).reshape({1, 3, 3});
  TokenChoiceRouting routing;
  routing.experts_per_token = 2;
  routing.capacity = 2;
  const torch::Tensor counts = chosen_expert_counts(plan_token_choice(gates, routing));
  EXPECT_EQ(counts.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(counts, torch::tensor({3.0, 0.0, 3.0}, torch::kDouble)));
  // Top-p 0.55: a second choice is taken while the first gate is below 0.55: tokens 0 (0.4)
  // and 1 (0.5) take theirs, token 2 (0.6) not, so expert 0, its second choice, loses a count.
  routing.top_p = 0.55;
  EXPECT_TRUE(torch::equal(chosen_expert_counts(plan_token_choice(gates, routing)),
                           torch::tensor({2.0, 0.0, 3.0}, torch::kDouble)));
}

}  // namespace
}  // namespace moevit
