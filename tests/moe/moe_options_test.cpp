#include "moe/moe_options.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace moevit {
namespace {

MoeOptions options_for(RouterKind router, int64_t k = 1) {
  MoeOptions options;
  options.router = router;
  options.num_experts = 4;
  options.experts_per_token = k;
  return options;
}

// The message check_moe_options throws, or "" when it accepts.
std::string refusal(const MoeOptions& options) {
  try {
    check_moe_options(options);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return "";
}

TEST(MoeOptions, TopPMustLieInZeroOneForTokenChoice) {
  MoeOptions options = options_for(RouterKind::kTopK, 2);
  options.top_p = 1.5;
  EXPECT_EQ(refusal(options), "moe.top_p: expected 0 (off) or a number in (0, 1], got 1.5");
  options.top_p = -0.25;
  EXPECT_EQ(refusal(options), "moe.top_p: expected 0 (off) or a number in (0, 1], got -0.25");
  for (const double accepted : {0.0, 0.5, 1.0}) {
    options.top_p = accepted;
    EXPECT_EQ(refusal(options), "") << accepted;
  }
  options.router = RouterKind::kPriority;
  options.top_p = 0.7;
  EXPECT_EQ(refusal(options), "");
}

TEST(MoeOptions, TopPNeedsAChoiceOfAtLeastTwoExperts) {
  MoeOptions options = options_for(RouterKind::kTopK, 1);
  options.top_p = 0.5;
  EXPECT_EQ(refusal(options),
            "moe.top_p: expected 0 with moe.k: 1 (top-p chooses between 1 and k experts), got 0.5");
}

TEST(MoeOptions, TopPIsATokenChoiceRule) {
  for (const RouterKind router : {RouterKind::kSoft, RouterKind::kExpertChoice}) {
    MoeOptions options = options_for(router);
    options.top_p = 0.5;
    EXPECT_EQ(refusal(options),
              "moe.top_p: expected 0 unless moe.router is topk or priority (top-p is a "
              "token-choice rule), got 0.5")
        << to_string(router);
  }
}

TEST(MoeOptions, BiasBalanceOnlyForTokenChoice) {
  for (const RouterKind router : {RouterKind::kSoft, RouterKind::kExpertChoice}) {
    MoeOptions options = options_for(router);
    options.balance = BalanceMethod::kBias;
    EXPECT_EQ(refusal(options),
              "moe.balance: expected loss unless moe.router is topk or priority (the bias "
              "balances token choice), got bias")
        << to_string(router);
  }
  MoeOptions options = options_for(RouterKind::kTopK, 2);
  options.balance = BalanceMethod::kBias;
  options.gate = GateFunction::kSigmoid;
  EXPECT_EQ(refusal(options), "");
  // The bias's loads are global: balance_scope global needs no Switch loss with it.
  options.balance_scope = BalanceScope::kGlobal;
  EXPECT_EQ(refusal(options), "");
  options.bias_rate = -0.001;
  EXPECT_EQ(refusal(options), "moe.bias_rate: expected a number >= 0, got -0.001");
}

TEST(MoeOptions, SigmoidGateNotWithSoft) {
  MoeOptions options = options_for(RouterKind::kSoft);
  options.gate = GateFunction::kSigmoid;
  EXPECT_EQ(refusal(options),
            "moe.gate: expected softmax with moe.router: soft (its slots mix tokens by "
            "softmaxes), got sigmoid");
  options.router = RouterKind::kExpertChoice;
  EXPECT_EQ(refusal(options), "");
}

TEST(MoeOptions, SharedExpertsAreCountsAndWidthsAtLeastZero) {
  MoeOptions options = options_for(RouterKind::kTopK);
  options.shared_experts = -1;
  EXPECT_EQ(refusal(options), "moe.shared_experts: expected an integer >= 0, got -1");
  options.shared_experts = 2;
  options.shared_expert_mlp_dim = -3;
  EXPECT_EQ(refusal(options),
            "moe.shared_expert_mlp_dim: expected an integer >= 0 (0 = the routed experts' "
            "width), got -3");
  options.shared_expert_mlp_dim = 0;
  EXPECT_EQ(refusal(options), "");
}

TEST(MoeOptions, EvalCapacityFactorZeroCutsTheExpertsNegativeIsRefused) {
  for (const RouterKind router : {RouterKind::kTopK, RouterKind::kExpertChoice}) {
    MoeOptions options = options_for(router);
    options.eval_capacity_factor = 0;
    EXPECT_EQ(refusal(options), "") << to_string(router);
    options.eval_capacity_factor = -1;
    EXPECT_EQ(refusal(options),
              "moe.eval_capacity_factor: expected a number >= 0 (0 = experts cut), got -1")
        << to_string(router);
  }
}

TEST(MoeOptions, ExpertChoiceIgnoresKAndDenseChecksNothing) {
  MoeOptions options = options_for(RouterKind::kExpertChoice, /*k=*/9);  // k > E: unused
  EXPECT_EQ(refusal(options), "");
  options.router = RouterKind::kDense;
  options.top_p = 7;
  EXPECT_EQ(refusal(options), "");
}

TEST(MoeOptions, EveryNameReadsBackAndNoneIsOnlyAnAliasOfDense) {
  for (RouterKind router : {RouterKind::kDense, RouterKind::kTopK, RouterKind::kPriority,
                            RouterKind::kSoft, RouterKind::kExpertChoice})
    EXPECT_TRUE(kRouterKindNames.parse(to_string(router)) == router) << to_string(router);
  EXPECT_TRUE(kRouterKindNames.parse("none") == RouterKind::kDense);
  EXPECT_EQ(to_string(RouterKind::kDense), "dense");  // config.yaml and checkpoints write this
  EXPECT_EQ(kRouterKindNames.choices(), "dense|none|topk|priority|soft|expert_choice");
}

TEST(MoeOptions, NamesOfTheNewKinds) {
  EXPECT_EQ(to_string(RouterKind::kExpertChoice), "expert_choice");
  EXPECT_EQ(to_string(GateFunction::kSigmoid), "sigmoid");
  EXPECT_EQ(to_string(GateFunction::kSoftmax), "softmax");
  EXPECT_EQ(to_string(BalanceMethod::kBias), "bias");
  EXPECT_EQ(to_string(BalanceMethod::kLoss), "loss");
}

}  // namespace
}  // namespace moevit
