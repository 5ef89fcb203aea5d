#include "vit/block.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

// The model by hand, with every MoE block's FFN branch removed: the reference for eval
// capacity factor 0 ("experts cut"), which must equal it exactly.
torch::Tensor logits_without_moe_branches(VisionTransformerImpl& model,
                                          const torch::Tensor& images) {
  torch::Tensor tokens = model.patch_embed->forward(images) + model.position_embedding;
  for (const auto& module : *model.blocks) {
    auto* block = module->as<BlockImpl>();
    tokens = tokens + block->attention->forward(block->norm1->forward(tokens));
    if (!block->has_moe())
      tokens = tokens + block->ffn().forward(block->norm2->forward(tokens)).tokens;
  }
  return model.forward_head(model.norm->forward(tokens));
}

TEST(Block, CutExpertsEqualTheModelWithEveryMoeBranchRemoved) {
  for (RouterKind router :
       {RouterKind::kTopK, RouterKind::kPriority, RouterKind::kSoft, RouterKind::kExpertChoice}) {
    torch::manual_seed(0);
    ModelConfig config = testing::tiny_model_config(router);
    config.depth = 4;
    VisionTransformer model(config);
    model->eval();
    const torch::NoGradGuard no_grad;
    const torch::Tensor images = torch::randn({3, 1, 8, 8});
    const torch::Tensor whole = model->forward(images).logits;
    model->set_eval_capacity_factor(0);
    const VitOutput cut = model->forward(images, /*keep_routing=*/true, /*measure_branches=*/true);
    EXPECT_TRUE(torch::equal(cut.logits, logits_without_moe_branches(*model, images)))
        << to_string(router);
    EXPECT_FALSE(torch::allclose(cut.logits, whole)) << to_string(router);
    ASSERT_EQ(cut.routing.size(), 2u);
    for (const LayerRouting& layer : cut.routing) EXPECT_TRUE(layer.routing.plan.branch_cut);
    // The MoE blocks' measured branches are zero; the dense blocks' are not.
    ASSERT_EQ(cut.ffn_sizes.size(), 4u);
    EXPECT_EQ(cut.ffn_sizes[1].branch_rms(), 0.0);
    EXPECT_EQ(cut.ffn_sizes[3].branch_rms(), 0.0);
    EXPECT_GT(cut.ffn_sizes[0].branch_rms(), 0.0);
  }
}

TEST(Block, BranchSizeIsTheMeanPerTokenRootMeanSquare) {
  torch::manual_seed(0);
  ModelConfig config = testing::tiny_model_config(RouterKind::kDense);
  Block block(config, &dense_ffn);
  block->eval();
  const torch::NoGradGuard no_grad;
  const torch::Tensor tokens = torch::randn({2, 4, 8});
  const BlockOutput output = block->forward(tokens, /*measure_branch=*/true);
  ASSERT_TRUE(output.ffn_size.has_value());
  EXPECT_EQ(output.ffn_size->tokens, 8);
  // The residual stream entering the FFN, and the branch added to it.
  const torch::Tensor attended = tokens + block->attention->forward(block->norm1->forward(tokens));
  const torch::Tensor branch = output.tokens - attended;
  const auto per_token_rms = [](const torch::Tensor& x) {
    return x.to(torch::kDouble).pow(2).mean(-1).sqrt().mean().item<double>();
  };
  EXPECT_NEAR(output.ffn_size->residual_rms(), per_token_rms(attended), 1e-9);
  EXPECT_NEAR(output.ffn_size->branch_rms(), per_token_rms(branch), 1e-6);
  EXPECT_FALSE(block->forward(tokens).ffn_size.has_value());  // only when asked

  BranchSize sum = *output.ffn_size;
  sum += *output.ffn_size;
  EXPECT_EQ(sum.tokens, 16);
  EXPECT_NEAR(sum.branch_rms(), output.ffn_size->branch_rms(), 1e-12);
}

// The state dict's names are the checkpoint's keys, and its order is the optimizer state's and
// the moving average's: a checkpoint written before the block took its FFN as a module must
// load after it. Pinned for a dense block 0 and a top-k MoE block 1.
TEST(Block, StateDictKeysOfADenseAndAnMoeBlockAreTheCheckpointKeys) {
  const VisionTransformer model(testing::tiny_model_config(RouterKind::kTopK));
  const std::vector<std::string> expected = {
      "position_embedding",
      "patch_embed.projection.weight",
      "patch_embed.projection.bias",
      "blocks.0.norm1.weight",
      "blocks.0.norm1.bias",
      "blocks.0.attention.qkv.weight",
      "blocks.0.attention.qkv.bias",
      "blocks.0.attention.projection.weight",
      "blocks.0.attention.projection.bias",
      "blocks.0.norm2.weight",
      "blocks.0.norm2.bias",
      "blocks.0.mlp.fc1.weight",
      "blocks.0.mlp.fc1.bias",
      "blocks.0.mlp.fc2.weight",
      "blocks.0.mlp.fc2.bias",
      "blocks.1.norm1.weight",
      "blocks.1.norm1.bias",
      "blocks.1.attention.qkv.weight",
      "blocks.1.attention.qkv.bias",
      "blocks.1.attention.projection.weight",
      "blocks.1.attention.projection.bias",
      "blocks.1.norm2.weight",
      "blocks.1.norm2.bias",
      "blocks.1.moe.router_weight",
      "blocks.1.moe.experts.fc1_weight",
      "blocks.1.moe.experts.fc1_bias",
      "blocks.1.moe.experts.fc2_weight",
      "blocks.1.moe.experts.fc2_bias",
      "norm.weight",
      "norm.bias",
      "head.weight",
      "head.bias",
  };
  EXPECT_EQ(model->named_parameters().keys(), expected);
  EXPECT_TRUE(model->named_buffers().is_empty());
}

TEST(Block, StateDictKeysOfSoftAndBiasBalancedMoeBlocks) {
  const VisionTransformer soft(testing::tiny_model_config(RouterKind::kSoft));
  std::vector<std::string> soft_keys;
  for (const std::string& key : soft->named_parameters().keys())
    if (key.rfind("blocks.1.moe.", 0) == 0) soft_keys.push_back(key);
  const std::vector<std::string> expected_soft = {
      "blocks.1.moe.phi",
      "blocks.1.moe.scale",
      "blocks.1.moe.experts.fc1_weight",
      "blocks.1.moe.experts.fc1_bias",
      "blocks.1.moe.experts.fc2_weight",
      "blocks.1.moe.experts.fc2_bias",
  };
  EXPECT_EQ(soft_keys, expected_soft);

  ModelConfig biased = testing::tiny_model_config(RouterKind::kTopK);
  biased.moe.balance = BalanceMethod::kBias;
  const VisionTransformer with_bias(biased);
  const std::vector<std::string> expected_buffers = {"blocks.1.moe.expert_bias"};
  EXPECT_EQ(with_bias->named_buffers().keys(), expected_buffers);
}

}  // namespace
}  // namespace moevit
