#include "app/train/nonfinite_steps.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "app/run/runtime.h"
#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

constexpr double kNan = std::numeric_limits<double>::quiet_NaN();

// The tiny model with MoE blocks 1 and 3 (depth 4, every 2), in training mode.
VisionTransformer two_moe_blocks(RouterKind router) {
  torch::manual_seed(5);
  ModelConfig config = testing::tiny_model_config(router);
  config.depth = 4;
  VisionTransformer model(config);
  model->train();
  return model;
}

void poison(const torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  weight.view(-1)[0].fill_(kNan);
}

TEST(NonfiniteSteps, NamesTheFirstMoeBlockWhoseRouterLogitsWentNonFinite) {
  const Runtime runtime;  // CPU, fp32
  VisionTransformer model = two_moe_blocks(RouterKind::kTopK);
  const std::vector<MoeLayer> layers = model->moe_layers();  // blocks 1 and 3
  const torch::Tensor images = torch::randn({2, 1, 8, 8});
  EXPECT_EQ(first_nonfinite_router(*model, images, runtime), std::nullopt);
  EXPECT_EQ(explain_nonfinite_loss(kNan, *model, images, runtime), "loss is nan");

  poison(layers[1]->router_weight);
  const torch::Tensor random_state = at::detail::getDefaultCPUGenerator().get_state();
  EXPECT_EQ(first_nonfinite_router(*model, images, runtime), std::optional<int64_t>(3));
  EXPECT_EQ(explain_nonfinite_loss(kNan, *model, images, runtime),
            "loss is nan; the router logits of MoE block 3 are the first non-finite (its router "
            "weights are non-finite)");
  // The second look ran in eval mode: no random draw, and training mode is back.
  EXPECT_TRUE(torch::equal(at::detail::getDefaultCPUGenerator().get_state(), random_state));
  EXPECT_TRUE(model->is_training());

  // Block 1's non-finite output reaches block 3 too; block 1 is named, the first.
  poison(layers[0]->router_weight);
  EXPECT_EQ(first_nonfinite_router(*model, images, runtime), std::optional<int64_t>(1));
  // Non-finite inputs with finite router weights: named, without the parenthesis.
  VisionTransformer healthy = two_moe_blocks(RouterKind::kTopK);
  const torch::Tensor infinite = torch::full({2, 1, 8, 8}, std::numeric_limits<float>::infinity());
  EXPECT_EQ(
      explain_nonfinite_loss(std::numeric_limits<double>::infinity(), *healthy, infinite, runtime),
      "loss is inf; the router logits of MoE block 1 are the first non-finite");
}

TEST(NonfiniteSteps, FindsItInSoftRoutingToo) {
  const Runtime runtime;
  VisionTransformer model = two_moe_blocks(RouterKind::kSoft);
  poison(model->moe_layers()[1]->phi);
  EXPECT_EQ(first_nonfinite_router(*model, torch::randn({2, 1, 8, 8}), runtime),
            std::optional<int64_t>(3));
}

TEST(NonfiniteSteps, ClipGradientsMeasuresTheNormAndSeesNonFiniteOnes) {
  torch::Tensor first = torch::zeros({2}, torch::requires_grad());
  torch::Tensor second = torch::zeros({1}, torch::requires_grad());
  torch::Tensor without = torch::zeros({1}, torch::requires_grad());  // no gradient: left out
  first.mutable_grad() = torch::tensor({3.0f, 0.0f});
  second.mutable_grad() = torch::tensor({4.0f});
  EXPECT_DOUBLE_EQ(clip_gradients({first, second, without}, /*max_norm=*/0), 5.0);
  EXPECT_TRUE(torch::equal(first.grad(), torch::tensor({3.0f, 0.0f})));  // 0: measured only
  EXPECT_NEAR(clip_gradients({first, second, without}, /*max_norm=*/1), 5.0, 1e-6);
  EXPECT_NEAR(second.grad().item<float>(), 4.0f / 5, 1e-5);  // clipped to norm 1
  second.mutable_grad() = torch::tensor({static_cast<float>(kNan)});
  EXPECT_TRUE(std::isnan(clip_gradients({first, second}, 0)));
  EXPECT_TRUE(std::isnan(clip_gradients({first, second}, 1)));
  EXPECT_EQ(explain_nonfinite_gradients(2.30258, kNan),
            "loss is 2.3026 but the gradient norm is nan");
}

}  // namespace
}  // namespace moevit
