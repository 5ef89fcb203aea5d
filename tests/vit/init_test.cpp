#include "vit/init.h"

#include <gtest/gtest.h>

#include <torch/torch.h>
#include <cmath>

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

TEST(Init, ModelPolicyXavierWeightsZeroBiasesSmallEmbeddings) {
  ModelConfig config = testing::tiny_model_config(RouterKind::kTopK);
  config.pooling = Pooling::kClassToken;
  VisionTransformer model(config);
  const auto max_abs = [](const torch::Tensor& tensor) { return tensor.abs().max().item<float>(); };
  const auto xavier_bound = [](int64_t fan_in, int64_t fan_out) {
    return static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in + fan_out)));
  };
  for (const auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const torch::Tensor& value = item.value();
    const bool is_bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    if (name.find("norm") != std::string::npos || name.find("patch_embed") != std::string::npos ||
        name.rfind("head.", 0) == 0)
      continue;  // constructors' init
    if (is_bias) {
      EXPECT_EQ(max_abs(value), 0.0f) << name;
    } else if (value.dim() == 2 && name.find("router") == std::string::npos &&
               name.find("position") == std::string::npos) {  // Linear [out, in]
      const float bound = xavier_bound(value.size(1), value.size(0));
      EXPECT_LE(max_abs(value), bound) << name;
      EXPECT_GT(max_abs(value), 0.8f * bound) << name;  // uniform over the whole range
    } else if (value.dim() == 3 && name.find("experts") != std::string::npos) {  // [E, in, out]
      const float bound = xavier_bound(value.size(1), value.size(2));
      EXPECT_LE(max_abs(value), bound) << name;
      EXPECT_GT(max_abs(value), 0.8f * bound) << name;
    } else {  // position embedding, router: trunc-normal(0.02) within ±2σ
      EXPECT_LE(max_abs(value), 0.04f) << name;
    }
  }
  // The head keeps LibTorch's U(±1/sqrt(fan_in)), not a near-zero init (see vit/init.h).
  const float head_bound = 1.0f / std::sqrt(static_cast<float>(config.dim));
  EXPECT_LE(max_abs(model->head->weight), head_bound);
  EXPECT_GT(max_abs(model->head->weight), 0.5f * head_bound);
  EXPECT_LT(model->class_token.abs().max().item<float>(), 1e-4f);
}

TEST(Init, ModelBuiltForACheckpointSkipsTheTrainingInit) {
  // The training init draws the position embedding (trunc-normal) and zeroes Linear biases;
  // a model about to be overwritten by a checkpoint keeps the constructors' values instead.
  const ModelConfig config = testing::tiny_model_config(RouterKind::kTopK);
  VisionTransformer trained(config, WeightInit::kForTraining);
  VisionTransformer loadable(config, WeightInit::kOverwrittenByCheckpoint);
  EXPECT_GT(trained->position_embedding.abs().max().item<float>(), 0.0f);
  EXPECT_EQ(loadable->position_embedding.abs().max().item<float>(), 0.0f);
  const auto any_attention_bias_nonzero = [](const VisionTransformer& model) {
    bool nonzero = false;
    for (const auto& item : model->named_parameters())
      if (item.key().find("attention") != std::string::npos &&
          item.key().find("bias") != std::string::npos)
        nonzero |= item.value().abs().max().item<float>() > 0.0f;
    return nonzero;
  };
  EXPECT_FALSE(any_attention_bias_nonzero(trained));
  EXPECT_TRUE(any_attention_bias_nonzero(loadable));
}

}  // namespace
}  // namespace moevit
