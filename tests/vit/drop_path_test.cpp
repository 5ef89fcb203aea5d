#include "vit/drop_path.h"

#include <gtest/gtest.h>

#include <torch/torch.h>

#include "tests/support/tiny_model.h"
#include "vit/block.h"
#include "vit/ffn.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

TEST(DropPath, EachSampleIsDroppedWholeOrKeptScaledByOneOverKeep) {
  torch::manual_seed(0);
  const torch::Tensor branch = torch::rand({4000, 3, 5}) + 1.0f;  // no zeros of its own
  const double rate = 0.25;
  const torch::Tensor out = drop_path(branch, rate, /*training=*/true);
  const torch::Tensor ratio = out / branch;  // per element: 0 or 1/0.75
  const torch::Tensor per_sample = ratio.select(2, 0).select(1, 0);
  // Every element of a sample shares its sample's factor.
  EXPECT_TRUE(torch::allclose(ratio, per_sample.view({-1, 1, 1}).expand_as(ratio)));
  const torch::Tensor dropped = per_sample == 0;
  const torch::Tensor kept = (per_sample - 1.0 / (1.0 - rate)).abs() < 1e-5;
  EXPECT_TRUE((dropped | kept).all().item<bool>());
  // About a quarter of 4000 samples dropped (binomial sd ≈ 27, so ±150 is > 5 sd).
  EXPECT_NEAR(dropped.sum().item<double>(), 1000.0, 150.0);
}

TEST(DropPath, IdentityInEvalAndAtRateZero) {
  const torch::Tensor branch = torch::randn({6, 4, 3});
  EXPECT_TRUE(drop_path(branch, 0.5, /*training=*/false).equal(branch));
  EXPECT_TRUE(drop_path(branch, 0.0, /*training=*/true).equal(branch));
}

TEST(DropPath, KeepsABfloat16BranchInBfloat16) {
  const torch::Tensor branch = torch::ones({64, 2}, torch::kBFloat16);
  const torch::Tensor out = drop_path(branch, 0.5, /*training=*/true);
  EXPECT_EQ(out.scalar_type(), torch::kBFloat16);
  // 1/(1-0.5) = 2 is exact in bf16.
  EXPECT_TRUE(((out == 0) | (out == 2)).all().item<bool>());
}

TEST(DropPath, RatesRiseLinearlyFromZeroAtTheFirstBlockToTheRateAtTheLast) {
  const std::vector<double> rates = drop_path_rates(0.1, 6);
  ASSERT_EQ(rates.size(), 6u);
  const double expected[] = {0.0, 0.02, 0.04, 0.06, 0.08, 0.1};
  for (size_t block = 0; block < rates.size(); ++block)
    EXPECT_NEAR(rates[block], expected[block], 1e-12) << block;
  EXPECT_EQ(drop_path_rates(0.3, 1), std::vector<double>({0.0}));
}

// A model with drop_path gives different outputs for the same input across training forwards
// (some branches dropped) and the same output as a drop_path-free copy in eval.
TEST(DropPath, ModelDropsBranchesOnlyInTraining) {
  ModelConfig config = testing::tiny_model_config(RouterKind::kSoft);
  config.depth = 3;
  config.drop_path = 0.9;
  torch::manual_seed(1);
  VisionTransformer model(config);
  ModelConfig plain_config = config;
  plain_config.drop_path = 0.0;
  VisionTransformer plain(plain_config);
  {
    torch::NoGradGuard no_grad;
    const auto source = model->named_parameters();
    for (auto& item : plain->named_parameters()) item.value().copy_(source[item.key()]);
  }
  const torch::Tensor images = torch::randn({16, 1, 8, 8});
  model->eval();
  plain->eval();
  EXPECT_TRUE(torch::allclose(model->forward(images).logits, plain->forward(images).logits));
  model->train();
  torch::manual_seed(2);
  const torch::Tensor first = model->forward(images).logits;
  const torch::Tensor second = model->forward(images).logits;
  EXPECT_FALSE(torch::allclose(first, second));
}

// drop_path_moe: false keeps the rate on every attention branch and on the dense FFNs, and sets
// the MoE blocks' FFN branch to 0; true (the default) drops every branch alike.
TEST(DropPath, DropPathMoeFalseSparesOnlyTheMoeBlocksFfnBranch) {
  ModelConfig config = testing::tiny_model_config(RouterKind::kTopK);
  config.depth = 3;  // MoE in block 1 (every 2)
  config.drop_path = 0.2;
  config.drop_path_moe = false;
  VisionTransformer spared(config);
  const double expected_attention[] = {0.0, 0.1, 0.2};
  const double expected_ffn[] = {0.0, 0.0, 0.2};
  for (int64_t id = 0; id < 3; ++id) {
    const BlockDropPath& rates = spared->blocks->at<BlockImpl>(id).drop_path();
    EXPECT_DOUBLE_EQ(rates.attention, expected_attention[id]) << id;
    EXPECT_DOUBLE_EQ(rates.ffn, expected_ffn[id]) << id;
  }
  config.drop_path_moe = true;
  VisionTransformer dropped(config);
  EXPECT_DOUBLE_EQ(dropped->blocks->at<BlockImpl>(1).drop_path().ffn, 0.1);
}

// In training, a block whose FFN rate is 0 never drops its FFN branch: with the attention rate
// also 0, its training forward equals its eval forward on every call.
TEST(DropPath, ABlockWithRatesZeroIsTheSameInTrainingAndEval) {
  ModelConfig config = testing::tiny_model_config(RouterKind::kSoft);
  torch::manual_seed(3);
  Block block(config, &moe_ffn, BlockDropPath{0.0, 0.0});
  const torch::Tensor tokens = torch::randn({16, 4, config.dim});
  block->eval();
  const torch::Tensor expected = block->forward(tokens).tokens;
  block->train();
  for (int call = 0; call < 3; ++call)
    EXPECT_TRUE(torch::allclose(block->forward(tokens).tokens, expected)) << call;
}

}  // namespace
}  // namespace moevit
