#include "vit/init.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

TEST(Init, TruncatedNormalStaysWithinTwoSigmaWithTheTruncatedSpread) {
  torch::manual_seed(0);
  torch::Tensor values = torch::empty({200000});
  trunc_normal_(values, 0.02);
  EXPECT_LE(values.abs().max().item<double>(), 0.04);
  EXPECT_NEAR(values.mean().item<double>(), 0.0, 2e-4);
  // The standard deviation of N(0,1) truncated to ±2 is 0.8796.
  EXPECT_NEAR(values.std().item<double>(), 0.02 * 0.8796, 2e-4);
}

TEST(Init, ModelPolicyZeroesBiasesAndKeepsWeightsSmall) {
  ModelConfig config = testing::tiny_model_config(RouterKind::kTopK);
  config.pooling = Pooling::kClassToken;
  VisionTransformer model(config);
  for (const auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    if (name.find("norm") != std::string::npos || name.find("patch_embed") != std::string::npos)
      continue;
    if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0)
      EXPECT_EQ(item.value().abs().max().item<float>(), 0.0f) << name;
    else
      EXPECT_LE(item.value().abs().max().item<float>(), 0.04f) << name;
  }
  EXPECT_LT(model->class_token.abs().max().item<float>(), 1e-4f);
}

}  // namespace
}  // namespace moevit
