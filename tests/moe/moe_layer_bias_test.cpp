// The MoE layer with DeepSeek-V3's balancing bias (moe.balance: bias).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>

#include "moe/bias_balance.h"
#include "moe/moe_layer.h"
#include "moe/routing_stats.h"
#include "tests/moe/moe_layer_helpers.h"

namespace moevit {
namespace {

using testing::expert_by_hand;
using testing::options_for;

MoeOptions bias_options() {
  MoeOptions options = options_for(RouterKind::kTopK, 4, 2);
  options.gate = GateFunction::kSigmoid;
  options.balance = BalanceMethod::kBias;
  options.bias_rate = 0.01;
  return options;
}

TEST(MoeLayer, ExpertBiasIsABufferWithoutGradient) {
  MoeLayer layer(bias_options(), 8, 16, 6);
  ASSERT_TRUE(layer->expert_bias.defined());
  EXPECT_FALSE(layer->expert_bias.requires_grad());
  EXPECT_TRUE(torch::equal(layer->expert_bias, torch::zeros({4})));
  for (const auto& parameter : layer->named_parameters()) EXPECT_NE(parameter.key(), "expert_bias");
  EXPECT_EQ(layer->named_parameters().size(), 5u);  // router + the experts' four tensors
  const auto buffers = layer->named_buffers();
  ASSERT_NE(buffers.find("expert_bias"), nullptr);
  EXPECT_TRUE(buffers["expert_bias"].is_same(layer->expert_bias));
  layer->forward(torch::randn({2, 6, 8})).output.pow(2).sum().backward();
  EXPECT_FALSE(layer->expert_bias.grad().defined());
  EXPECT_GT(layer->router_weight.grad().abs().sum().item<float>(), 0.0f);
  // Without balance: bias there is no buffer.
  MoeLayer plain(options_for(RouterKind::kTopK, 4, 2), 8, 16, 6);
  EXPECT_FALSE(plain->expert_bias.defined());
  EXPECT_EQ(plain->named_buffers().find("expert_bias"), nullptr);
}

TEST(MoeLayer, ExpertBiasChangesTheChosenExpertsNotTheirWeights) {
  // Router = identity: the token's logits are its features 1, 2, -0.5, 0; sigmoids s = 0.73,
  // 0.88, 0.38, 0.5. Unbiased the top two are experts 1 and 0; with bias 0, -1, 1, 0 they are
  // 2 (s + b = 1.38) and 0 (0.73), listed best first by the unbiased score (0 before 2) and
  // weighted s0 / (s0 + s2) and s2 / (s0 + s2) (sum ≠ 1 first).
  MoeOptions options = bias_options();
  options.eval_capacity_factor = 4;  // nothing drops
  MoeLayer layer(options, 4, 8, 1);
  {
    torch::NoGradGuard no_grad;
    layer->router_weight.copy_(torch::eye(4));
  }
  layer->eval();
  const torch::Tensor x = torch::tensor({1.0f, 2.0f, -0.5f, 0.0f}).reshape({1, 1, 4});
  const torch::Tensor s = torch::sigmoid(x.reshape(-1));
  EXPECT_TRUE(torch::equal(layer->forward(x).routing.plan.expert_index,
                           torch::tensor({1, 0}, torch::kLong).reshape({1, 1, 2})));
  {
    torch::NoGradGuard no_grad;
    layer->expert_bias.copy_(torch::tensor({0.0f, -1.0f, 1.0f, 0.0f}));
  }
  const MoeLayerOutput out = layer->forward(x);
  const DispatchPlan& plan = out.routing.plan;
  EXPECT_TRUE(
      torch::equal(plan.expert_index, torch::tensor({0, 2}, torch::kLong).reshape({1, 1, 2})));
  const torch::Tensor s2 = s[2], s0 = s[0];
  EXPECT_TRUE(torch::allclose(plan.gate, torch::stack({s0, s2}).reshape({1, 1, 2})));
  const torch::Tensor weights = torch::stack({s0, s2}) / (s0 + s2);
  EXPECT_TRUE(torch::allclose(plan.combine_weight, weights.reshape({1, 1, 2})));
  const torch::Tensor token = x.reshape({1, 4});
  const torch::Tensor expected = weights[0] * expert_by_hand(*layer->experts, 0, token) +
                                 weights[1] * expert_by_hand(*layer->experts, 2, token);
  EXPECT_TRUE(torch::allclose(out.output.reshape({1, 4}), expected, 1e-5, 1e-6));
}

TEST(MoeLayer, ChosenCountsAccumulateOverTrainingForwardsAndResetWhenTaken) {
  torch::manual_seed(11);
  MoeLayer layer(bias_options(), 8, 16, 6);
  const torch::Tensor x = torch::randn({2, 6, 8});
  layer->train();
  const DispatchPlan first = layer->forward(x).routing.plan;
  const DispatchPlan second = layer->forward(x).routing.plan;
  layer->eval();
  layer->forward(x);  // not counted
  const torch::Tensor counts = layer->take_chosen_counts();
  EXPECT_EQ(counts.scalar_type(), torch::kDouble);
  EXPECT_TRUE(torch::equal(counts, chosen_expert_counts(first) + chosen_expert_counts(second)));
  EXPECT_EQ(counts.sum().item<double>(), 2 * 12 * 2);  // two forwards of 12 tokens, k = 2
  EXPECT_TRUE(torch::equal(layer->take_chosen_counts(), torch::zeros({4}, torch::kDouble)));
}

TEST(MoeLayer, UpdateExpertBiasStepsByTheRateTowardsTheMeanLoad) {
  MoeLayer layer(bias_options(), 8, 16, 6);
  layer->update_expert_bias(torch::tensor({4.0, 0.0, 2.0, 2.0}, torch::kDouble));
  EXPECT_TRUE(torch::equal(layer->expert_bias, torch::tensor({-0.01f, 0.01f, 0.0f, 0.0f})));
  // The module's buffer is the same tensor (what a checkpoint saves).
  EXPECT_TRUE(torch::equal(layer->named_buffers()["expert_bias"], layer->expert_bias));
  MoeLayer plain(options_for(RouterKind::kTopK, 4, 2), 8, 16, 6);
  try {
    plain->update_expert_bias(torch::ones({4}));
    FAIL() << "expected an error";
  } catch (const c10::Error& error) {
    EXPECT_NE(std::string(error.what_without_backtrace())
                  .find("update_expert_bias: the layer has no bias (moe.balance)"),
              std::string::npos);
  }
}

TEST(MoeLayer, ExpertBiasIsSavedAndRestoredExactly) {
  torch::manual_seed(12);
  MoeLayer layer(bias_options(), 8, 16, 6);
  {
    torch::NoGradGuard no_grad;
    layer->expert_bias.copy_(torch::tensor({0.125f, -0.2f, 0.3f, -1e-3f}));
  }
  std::stringstream stream;
  {
    torch::serialize::OutputArchive archive;
    layer->save(archive);
    archive.save_to(stream);
  }
  torch::manual_seed(13);
  MoeLayer restored(bias_options(), 8, 16, 6);
  ASSERT_FALSE(torch::equal(restored->expert_bias, layer->expert_bias));
  torch::serialize::InputArchive archive;
  archive.load_from(stream);
  restored->load(archive);
  EXPECT_TRUE(torch::equal(restored->expert_bias, layer->expert_bias));
  EXPECT_TRUE(torch::equal(restored->router_weight, layer->router_weight));
  // And the restored bias routes: both layers give the same output.
  layer->eval();
  restored->eval();
  const torch::Tensor x = torch::randn({2, 6, 8});
  EXPECT_TRUE(torch::equal(restored->forward(x).output, layer->forward(x).output));
}

}  // namespace
}  // namespace moevit
