#include "app/train/optimizer_setup.h"

#include <gtest/gtest.h>

#include <set>

#include "app/run/config.h"
#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

ModelConfig small_model(RouterKind router, Pooling pooling) {
  ModelConfig config = testing::tiny_model_config(router);
  config.pooling = pooling;
  config.moe.num_experts = 2;
  return config;
}

TEST(OptimizerSetup, NoDecayOnNormsBiasesEmbeddingsAndScale) {
  ModelConfig config = small_model(RouterKind::kSoft, Pooling::kClassToken);
  config.attention = AttentionKind::kLocalitySelf;
  VisionTransformer model(config);
  std::set<std::string> exempt;
  for (const auto& item : model->named_parameters())
    if (exempt_from_weight_decay(item.key(), item.value())) exempt.insert(item.key());
  for (const char* name :
       {"position_embedding", "class_token", "blocks.1.moe.scale", "blocks.0.norm1.weight",
        "blocks.0.norm1.bias", "blocks.0.attention.qkv.bias", "blocks.1.moe.experts.fc1_bias",
        "head.bias", "norm.weight", "blocks.0.attention.scale"})
    EXPECT_TRUE(exempt.count(name)) << name;
  for (const char* name : {"blocks.0.attention.qkv.weight", "blocks.0.mlp.fc1.weight",
                           "blocks.1.moe.experts.fc1_weight", "blocks.1.moe.phi", "head.weight",
                           "patch_embed.projection.weight"})
    EXPECT_FALSE(exempt.count(name)) << name;
}

TEST(OptimizerSetup, TwoGroupsCoverEveryParameterOnceWithTheirDecay) {
  VisionTransformer model(small_model(RouterKind::kTopK, Pooling::kGlobalAverage));
  OptimConfig optim;
  optim.weight_decay = 0.1;
  auto optimizer = make_adamw(*model, optim);
  ASSERT_EQ(optimizer->param_groups().size(), 2u);
  const auto& decayed = optimizer->param_groups()[0];
  const auto& exempt = optimizer->param_groups()[1];
  EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(decayed.options()).weight_decay(),
                   0.1);
  EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(exempt.options()).weight_decay(),
                   0.0);
  EXPECT_EQ(decayed.params().size() + exempt.params().size(), model->parameters().size());
  set_learning_rate(*optimizer, 0.25);
  for (const auto& group : optimizer->param_groups())
    EXPECT_DOUBLE_EQ(static_cast<const torch::optim::AdamWOptions&>(group.options()).lr(), 0.25);
}

}  // namespace
}  // namespace moevit
