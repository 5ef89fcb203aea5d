#include "moe/moe_layer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "moe/bias_balance.h"
#include "moe/dispatch_plan.h"
#include "moe/routing_stats.h"
#include "ops/autocast.h"
#include "tests/moe/moe_layer_helpers.h"
#include "vit/mlp.h"

namespace moevit {
namespace {

using testing::expert_by_hand;
using testing::options_for;

TEST(MoeLayer, TopKWithoutDropsEqualsGateWeightedSumOfExperts) {
  torch::manual_seed(0);
  MoeOptions options = options_for(RouterKind::kTopK, 4, 2);
  options.eval_capacity_factor = 100.0;  // C ≥ S·K: nothing drops
  MoeLayer layer(options, /*dim=*/8, /*hidden=*/16, /*tokens_per_image=*/5);
  layer->eval();
  {
    torch::NoGradGuard no_grad;
    layer->router_weight.normal_(0, 1);  // make routing decisive
  }
  const torch::Tensor x = torch::randn({3, 5, 8});
  const MoeLayerOutput out = layer->forward(x);
  EXPECT_EQ(routing_stats(out.routing.plan).dropped, 0);

  const torch::Tensor probs = torch::softmax(x.matmul(layer->router_weight), -1);
  const auto [gate, index] = probs.topk(2, -1);
  torch::Tensor expected = torch::zeros_like(x);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t n = 0; n < 5; ++n)
      for (int64_t k = 0; k < 2; ++k) {
        const int64_t e = index[b][n][k].item<int64_t>();
        expected[b][n] +=
            gate[b][n][k] * expert_by_hand(*layer->experts, e, x[b][n].unsqueeze(0))[0];
      }
  EXPECT_TRUE(torch::allclose(out.output, expected, 1e-4, 1e-5));
}

TEST(MoeLayer, OneExpertWithRoomForEveryTokenEqualsDenseFfn) {
  torch::manual_seed(1);
  MoeOptions options = options_for(RouterKind::kTopK, 1, 1);
  options.capacity_factor = 1.0;
  MoeLayer layer(options, 6, 12, 7);
  Mlp dense(6, 12);
  {
    torch::NoGradGuard no_grad;
    layer->experts->fc1_weight[0].copy_(dense->fc1->weight.t());
    layer->experts->fc1_bias[0][0].copy_(dense->fc1->bias);
    layer->experts->fc2_weight[0].copy_(dense->fc2->weight.t());
    layer->experts->fc2_bias[0][0].copy_(dense->fc2->bias);
  }
  const torch::Tensor x = torch::randn({2, 7, 6});
  layer->train();  // noise on one logit cannot change a softmax over one expert
  EXPECT_TRUE(torch::allclose(layer->forward(x).output, dense->forward(x), 1e-5, 1e-6));
}

TEST(MoeLayer, SmallCapacityDropsTokensWhichGetZeroOutput) {
  torch::manual_seed(2);
  MoeOptions options = options_for(RouterKind::kTopK, 2, 1);
  options.eval_capacity_factor = 0.25;  // C = ceil(8·0.25/2) = 1 of 8 tokens per expert
  MoeLayer layer(options, 4, 8, 8);
  layer->eval();
  const torch::Tensor x = torch::randn({1, 8, 4});
  const MoeLayerOutput out = layer->forward(x);
  const DispatchPlan& plan = out.routing.plan;
  EXPECT_EQ(plan.capacity, 1);
  const torch::Tensor dropped = (plan.slot_index >= plan.capacity).reshape({8});
  // One slot per expert: exactly one token per expert used is kept, the rest drop.
  const int64_t experts_used = std::get<0>(at::_unique(plan.expert_index)).numel();
  EXPECT_EQ(dropped.sum().item<int64_t>(), 8 - experts_used);
  for (int64_t n = 0; n < 8; ++n) {
    if (dropped[n].item<bool>()) {
      EXPECT_EQ(out.output[0][n].abs().sum().item<float>(), 0.0f);
    }
  }
}

TEST(MoeLayer, GradientsReachRouterAndExperts) {
  for (RouterKind router : {RouterKind::kTopK, RouterKind::kPriority}) {
    torch::manual_seed(3);
    MoeLayer layer(options_for(router, 4, 2), 8, 16, 6);
    const torch::Tensor x = torch::randn({2, 6, 8});
    const MoeLayerOutput out = layer->forward(x);
    (out.output.pow(2).sum() + out.routing.aux.total).backward();
    EXPECT_GT(layer->router_weight.grad().abs().sum().item<float>(), 0.0f);
    EXPECT_GT(layer->experts->fc1_weight.grad().abs().sum().item<float>(), 0.0f);
    EXPECT_GT(layer->experts->fc2_bias.grad().abs().sum().item<float>(), 0.0f);
    EXPECT_TRUE(std::isfinite(out.routing.aux.total.item<float>()));
  }
}

TEST(MoeLayer, SoftGradientsReachPhiScaleAndExperts) {
  torch::manual_seed(4);
  MoeLayer layer(options_for(RouterKind::kSoft, 4), 8, 16, 6);
  EXPECT_EQ(layer->slots_per_expert(), 2);  // round(6 / 4) = 2 (1.5 rounds away from zero)
  const MoeLayerOutput out = layer->forward(torch::randn({2, 6, 8}));
  out.output.pow(2).sum().backward();
  EXPECT_GT(layer->phi.grad().abs().sum().item<float>(), 0.0f);
  EXPECT_GT(layer->scale.grad().abs().item<float>(), 0.0f);
  EXPECT_GT(layer->experts->fc1_weight.grad().abs().sum().item<float>(), 0.0f);
}

TEST(MoeLayer, GroupsOfImagesFollowTheBatch) {
  MoeOptions options = options_for(RouterKind::kTopK, 2);
  options.group_size = 4;
  MoeLayer layer(options, 4, 8, 3);
  EXPECT_EQ(layer->images_per_group(8), 4);
  EXPECT_EQ(layer->images_per_group(6), 2);  // odd batch sizes still route
  EXPECT_EQ(layer->images_per_group(1), 1);
  const MoeLayerOutput out = layer->forward(torch::randn({6, 3, 4}));
  EXPECT_EQ(out.routing.plan.num_groups, 3);
  EXPECT_EQ(out.routing.plan.tokens_per_group, 6);
  EXPECT_EQ(out.output.sizes(), (std::vector<int64_t>{6, 3, 4}));
}

TEST(MoeLayer, CapacityFactorDependsOnModeAndPriorityOnPriorityAt) {
  MoeOptions options = options_for(RouterKind::kPriority, 4);
  options.capacity_factor = 1.0;
  options.eval_capacity_factor = 2.0;
  options.priority_at = PriorityAt::kEval;
  MoeLayer layer(options, 4, 8, 16);
  layer->train();
  EXPECT_EQ(layer->capacity(16), 4);
  EXPECT_FALSE(layer->uses_batch_priority());
  layer->eval();
  EXPECT_EQ(layer->capacity(16), 8);
  EXPECT_TRUE(layer->uses_batch_priority());
  layer->set_eval_capacity_factor(0.5);
  EXPECT_EQ(layer->capacity(16), 2);
}

TEST(MoeLayer, NoiseOnlyInTrainingAndFixedSeedRepeats) {
  torch::manual_seed(5);
  MoeOptions options = options_for(RouterKind::kTopK, 4);
  options.noise_std = 8.0;
  MoeLayer layer(options, 8, 16, 10);
  const torch::Tensor x = torch::randn({2, 10, 8});
  layer->eval();
  const torch::Tensor eval_a = layer->forward(x).output, eval_b = layer->forward(x).output;
  EXPECT_TRUE(torch::equal(eval_a, eval_b));
  layer->train();
  torch::manual_seed(11);
  const torch::Tensor train_a = layer->forward(x).routing.plan.gate;
  torch::manual_seed(11);
  const torch::Tensor train_b = layer->forward(x).routing.plan.gate;
  torch::manual_seed(12);
  const torch::Tensor train_c = layer->forward(x).routing.plan.gate;
  EXPECT_TRUE(torch::equal(train_a, train_b));
  EXPECT_FALSE(torch::equal(train_a, train_c));
}

TEST(MoeLayer, ExpertRowsArePackedOnCpuInFp32AndPaddedUnderAutocast) {
  MoeLayer layer(options_for(RouterKind::kTopK, 4), /*dim=*/8, /*hidden=*/16, /*tokens=*/6);
  const torch::Tensor groups = layer->group_tokens(torch::randn({2, 6, 8}));
  const DispatchPlan packed = layer->route(groups).plan;
  EXPECT_TRUE(packed.is_packed());
  EXPECT_EQ(packed.token_of_slot.size(0),
            std::accumulate(packed.rows_per_expert.begin(), packed.rows_per_expert.end(), 0LL));
  DispatchPlan padded;
  torch::Tensor output;
  {
    const Bf16AutocastScope autocast(/*cuda=*/false, /*enabled=*/true);
    padded = layer->route(groups).plan;
    output = layer->forward(torch::randn({2, 6, 8})).output;
  }
  EXPECT_FALSE(padded.is_packed());
  EXPECT_EQ(padded.token_of_slot.size(0), 4 * padded.num_groups * padded.capacity);
  EXPECT_EQ(output.sizes(), (torch::IntArrayRef{2, 6, 8}));
}

TEST(MoeLayer, ForwardIsItsPublicStepsComposed) {
  // The benchmarks time group_tokens → route → dispatch → experts → combine one by one: the
  // composition must be exactly the layer, for token choice (with drops) and soft.
  for (const RouterKind router : {RouterKind::kPriority, RouterKind::kSoft}) {
    torch::manual_seed(3);
    MoeOptions options = options_for(router, 4);
    options.eval_capacity_factor = 0.5;
    options.group_size = 2;
    MoeLayer layer(options, /*dim=*/8, /*hidden=*/16, /*tokens_per_image=*/6);
    layer->eval();
    const torch::Tensor x = torch::randn({4, 6, 8});
    const torch::Tensor groups = layer->group_tokens(x);
    EXPECT_EQ(groups.sizes(), (std::vector<int64_t>{2, 12, 8}));
    const DispatchPlan plan = layer->route(groups).plan;
    const torch::Tensor by_steps =
        combine(plan, layer->experts->forward(dispatch(plan, groups), plan.rows_per_expert))
            .reshape(x.sizes());
    EXPECT_TRUE(torch::equal(layer->forward(x).output, by_steps)) << to_string(router);
  }
}

// Two images, image 0's tokens all preferring expert 0 and image 1's expert 1 (router = identity
// on the first two features), no noise, Switch loss only.
struct SkewedBatch {
  MoeLayer layer{nullptr};
  torch::Tensor tokens;  // [2, 3, 4]
};
SkewedBatch skewed_batch(BalanceScope scope) {
  MoeOptions options = options_for(RouterKind::kTopK, 4);
  options.noise_std = 0;
  options.capacity_factor = 4;  // nothing drops
  options.loss_weights = AuxLossWeights{0, 0, 1.0, 0};
  options.balance_scope = scope;
  SkewedBatch batch{MoeLayer(options, 4, 8, 3), torch::zeros({2, 3, 4})};
  {
    torch::NoGradGuard no_grad;
    batch.layer->router_weight.copy_(torch::eye(4));
  }
  batch.tokens.select(0, 0).select(1, 0).fill_(2.0);
  batch.tokens.select(0, 1).select(1, 1).fill_(2.0);
  return batch;
}

TEST(MoeLayer, GlobalBalanceScopeCountsTheWholeBatchMicroEachGroup) {
  SkewedBatch micro = skewed_batch(BalanceScope::kMicro);
  SkewedBatch global = skewed_batch(BalanceScope::kGlobal);
  const double gate = std::exp(2.0) / (std::exp(2.0) + 3);  // a token's gate on its expert
  const double other = 1 / (std::exp(2.0) + 3);
  // Micro: each image alone, f = [1,0,0,0]: E·P_own = 4·gate, the same for both groups.
  EXPECT_NEAR(micro.layer->forward(micro.tokens).routing.aux.switch_balance.item<double>(),
              4 * gate, 1e-5);
  // Global: f = [1/2, 1/2, 0, 0], P = [(gate + other) / 2, same, other, other]:
  EXPECT_NEAR(global.layer->forward(global.tokens).routing.aux.switch_balance.item<double>(),
              4 * (gate + other) / 2, 1e-5);
  // The reducer sees this forward's top-1 counts, in training only.
  int calls = 0;
  global.layer->set_expert_count_reducer([&](const torch::Tensor& counts) {
    ++calls;
    EXPECT_TRUE(torch::equal(counts, torch::tensor({3.0f, 3.0f, 0.0f, 0.0f})));
    return counts * 2;  // as if a second rank had the same batch
  });
  global.layer->forward(global.tokens);
  global.layer->eval();
  // Evaluation runs on one rank: no reducer, the per-group loss.
  EXPECT_NEAR(global.layer->forward(global.tokens).routing.aux.switch_balance.item<double>(),
              4 * gate, 1e-5);
  EXPECT_EQ(calls, 1);
}

TEST(MoeLayer, GlobalBalanceScopeNeedsTheSwitchLoss) {
  MoeOptions options = options_for(RouterKind::kTopK, 4);
  options.balance_scope = BalanceScope::kGlobal;
  try {
    MoeLayer layer(options, 4, 8, 3);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find("moe.balance_scope: expected micro unless"),
              std::string::npos)
        << error.what();
  }
}

TEST(MoeLayer, RefusesDenseRouter) {
  EXPECT_THROW(MoeLayer(options_for(RouterKind::kDense, 4), 4, 8, 4), std::invalid_argument);
}

// The MLP of all shared experts, by hand, applied to every token: x [B,N,D].
torch::Tensor shared_mlp_by_hand(const MoeLayerImpl& layer, const torch::Tensor& x) {
  return expert_by_hand(*layer.shared_experts, 0, x.reshape({-1, x.size(-1)})).reshape(x.sizes());
}

const std::vector<RouterKind> kRoutedKinds = {RouterKind::kTopK, RouterKind::kPriority,
                                              RouterKind::kExpertChoice, RouterKind::kSoft};

TEST(MoeLayer, CutExpertsGiveZeroOutputAndReachNoToken) {
  for (const RouterKind router : kRoutedKinds) {
    torch::manual_seed(7);
    MoeLayer layer(options_for(router, 4, router == RouterKind::kTopK ? 2 : 1), 8, 16, 6);
    const torch::Tensor x = torch::randn({2, 6, 8});
    layer->eval();
    EXPECT_FALSE(layer->experts_cut());
    layer->set_eval_capacity_factor(0);
    EXPECT_TRUE(layer->experts_cut()) << to_string(router);
    const MoeLayerOutput out = layer->forward(x);
    EXPECT_TRUE(torch::equal(out.output, torch::zeros_like(x))) << to_string(router);
    EXPECT_TRUE(out.routing.plan.branch_cut) << to_string(router);
    const RoutingStats stats = routing_stats(out.routing.plan);
    EXPECT_EQ(stats.routed_tokens, 12) << to_string(router);
    EXPECT_EQ(stats.reached_tokens, 0) << to_string(router);
    EXPECT_DOUBLE_EQ(stats.reached_fraction(), 0.0) << to_string(router);
    if (router != RouterKind::kSoft) {
      EXPECT_EQ(out.routing.plan.capacity, 0) << to_string(router);
      EXPECT_EQ(layer->capacity(6), 0) << to_string(router);
    }
    // Training never cuts: the factor is the evaluation one.
    layer->train();
    EXPECT_FALSE(layer->experts_cut());
    EXPECT_FALSE(layer->forward(x).routing.plan.branch_cut);
    EXPECT_GT(routing_stats(layer->forward(x).routing.plan).reached_fraction(), 0.0);
  }
}

TEST(MoeLayer, EvalCapacityFactorRefusesNegatives) {
  MoeLayer layer(options_for(RouterKind::kTopK, 4), 8, 16, 6);
  try {
    layer->set_eval_capacity_factor(-1);
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& error) {
    EXPECT_EQ(std::string(error.what()),
              "moe.eval_capacity_factor: expected a number >= 0 (0 = experts cut), got -1");
  }
}

TEST(MoeLayer, SharedExpertsAloneRemainWhenRoutedExpertsAreCut) {
  for (const RouterKind router : kRoutedKinds) {
    torch::manual_seed(8);
    MoeOptions options = options_for(router, 4);
    options.shared_experts = 2;  // width 0: 2 × the routed experts' 16
    MoeLayer layer(options, 8, 16, 6);
    EXPECT_EQ(layer->shared_experts->fc1_weight.sizes(), (torch::IntArrayRef{1, 8, 32}));
    layer->eval();
    layer->set_eval_capacity_factor(0);
    const torch::Tensor x = torch::randn({2, 6, 8});
    const MoeLayerOutput out = layer->forward(x);
    EXPECT_TRUE(torch::allclose(out.output, shared_mlp_by_hand(*layer, x), 1e-5, 1e-6))
        << to_string(router);
    EXPECT_DOUBLE_EQ(routing_stats(out.routing.plan).reached_fraction(), 0.0);
  }
}

TEST(MoeLayer, SharedExpertsSeeEveryTokenWithWeightOne) {
  // Routed experts whose fc2 is zero add nothing: the output is the shared MLP of every token,
  // dropped ones included (capacity factor 0.25 drops most).
  for (const RouterKind router : {RouterKind::kTopK, RouterKind::kExpertChoice}) {
    torch::manual_seed(9);
    MoeOptions options = options_for(router, 4, router == RouterKind::kTopK ? 2 : 1);
    options.shared_experts = 1;
    options.shared_expert_mlp_dim = 5;
    options.capacity_factor = 0.25;
    MoeLayer layer(options, 8, 16, 6);
    EXPECT_EQ(layer->shared_experts->fc1_weight.sizes(), (torch::IntArrayRef{1, 8, 5}));
    {
      torch::NoGradGuard no_grad;
      layer->experts->fc2_weight.zero_();
      layer->experts->fc2_bias.zero_();
    }
    layer->train();
    const torch::Tensor x = torch::randn({2, 6, 8});
    const MoeLayerOutput out = layer->forward(x);
    EXPECT_GT(routing_stats(out.routing.plan).tokens_unprocessed, 0) << to_string(router);
    EXPECT_TRUE(torch::allclose(out.output, shared_mlp_by_hand(*layer, x), 1e-5, 1e-6))
        << to_string(router);
    out.output.sum().backward();
    EXPECT_GT(layer->shared_experts->fc1_weight.grad().abs().sum().item<float>(), 0.0f);
  }
}

TEST(MoeLayer, SharedExpertWidthIsTheirCountTimesTheirWidth) {
  MoeOptions options = options_for(RouterKind::kTopK, 4);
  options.shared_experts = 3;
  EXPECT_EQ(shared_experts_width(options, 16), 48);
  options.shared_expert_mlp_dim = 5;
  EXPECT_EQ(shared_experts_width(options, 16), 15);
  EXPECT_TRUE(MoeLayer(options_for(RouterKind::kTopK, 4), 8, 16, 6)->shared_experts.is_empty());
}

TEST(MoeLayer, ExpertChoiceCapacityIgnoresK) {
  MoeOptions options = options_for(RouterKind::kExpertChoice, 4, /*k=*/2);
  options.capacity_factor = 1.0;
  options.eval_capacity_factor = 2.0;
  MoeLayer layer(options, 4, 8, 16);
  layer->train();
  EXPECT_EQ(layer->capacity(16), 4);  // ceil(16 · 1 / 4), not 8
  layer->eval();
  EXPECT_EQ(layer->capacity(16), 8);
  layer->set_eval_capacity_factor(0.3);
  EXPECT_EQ(layer->capacity(16), 2);  // ceil(16 · 0.3 / 4) = ceil(1.2)
}

TEST(MoeLayer, ExpertChoiceIsEachExpertsBestTokensWeightedByGate) {
  torch::manual_seed(10);
  MoeOptions options = options_for(RouterKind::kExpertChoice, 3);
  options.eval_capacity_factor = 1.0;  // C = ceil(6 / 3) = 2 of 6 tokens per expert
  MoeLayer layer(options, 8, 16, 6);
  layer->eval();
  {
    torch::NoGradGuard no_grad;
    layer->router_weight.normal_(0, 1);
  }
  const torch::Tensor x = torch::randn({2, 6, 8});
  const MoeLayerOutput out = layer->forward(x);
  const torch::Tensor scores = torch::softmax(x.matmul(layer->router_weight), -1);  // [2,6,3]
  torch::Tensor expected = torch::zeros_like(x);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t e = 0; e < 3; ++e) {
      const torch::Tensor best = std::get<1>(scores[b].select(1, e).topk(2));
      for (int64_t pick = 0; pick < 2; ++pick) {
        const int64_t n = best[pick].item<int64_t>();
        expected[b][n] +=
            scores[b][n][e] * expert_by_hand(*layer->experts, e, x[b][n].unsqueeze(0))[0];
      }
    }
  EXPECT_TRUE(torch::allclose(out.output, expected, 1e-4, 1e-5));
  EXPECT_EQ(routing_stats(out.routing.plan).assignments, 2 * 3 * 2);
  // The router learns through the combine weights (there is no balance loss to teach it).
  layer->train();
  layer->forward(x).output.pow(2).sum().backward();
  EXPECT_GT(layer->router_weight.grad().abs().sum().item<float>(), 0.0f);
}

}  // namespace
}  // namespace moevit
