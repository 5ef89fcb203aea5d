#include "vit/vision_transformer.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "moe/routing_stats.h"
#include "tests/support/tiny_model.h"
#include "vit/attention.h"
#include "vit/parameter_count.h"

namespace moevit {
namespace {

ModelConfig tiny_config(RouterKind router, int64_t channels = 1, int64_t image = 8,
                        int64_t patch = 2) {
  ModelConfig config = testing::tiny_model_config(router);
  config.image_size = image;
  config.patch_size = patch;
  config.channels = channels;
  config.dim = 16;
  config.depth = 4;
  config.mlp_dim = 32;
  config.num_classes = 5;
  config.moe.experts_per_token = 2;
  return config;
}

TEST(VisionTransformer, LogitShapesForChannelsImageAndPatchSizes) {
  for (RouterKind router :
       {RouterKind::kDense, RouterKind::kTopK, RouterKind::kPriority, RouterKind::kSoft})
    for (int64_t channels : {1, 3})
      for (auto [image, patch] : {std::pair<int64_t, int64_t>{8, 2}, {12, 4}, {16, 16}})
        for (int64_t batch : {1, 3, 4}) {
          VisionTransformer model(tiny_config(router, channels, image, patch));
          const VitOutput out = model->forward(torch::randn({batch, channels, image, image}));
          EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{batch, 5}));
          EXPECT_EQ(out.aux.total.dim(), 0);
          EXPECT_TRUE(std::isfinite(out.aux.total.item<float>()));
        }
}

TEST(VisionTransformer, ConvStemGivesOneTokenPerPatchFromOverlappingConvolutions) {
  for (int64_t patch : {1, 2, 4, 16}) {
    ModelConfig config = tiny_config(RouterKind::kSoft, /*channels=*/3, /*image=*/16, patch);
    config.stem = Stem::kConv;
    VisionTransformer model(config);
    // log2(P) stride-2 3x3 convolutions with a ReLU each, widths doubling up to D = 16.
    torch::nn::Sequential stem = model->patch_embed->conv_stem;
    int64_t halvings = 0;
    while ((int64_t{1} << halvings) < patch) ++halvings;
    ASSERT_EQ(static_cast<int64_t>(stem->size()), 2 * halvings) << patch;
    for (int64_t layer = 0; layer < halvings; ++layer) {
      auto* conv = stem->ptr(2 * layer)->as<torch::nn::Conv2d>();
      ASSERT_NE(conv, nullptr);
      EXPECT_EQ(conv->weight.size(0), 16 >> (halvings - 1 - layer)) << patch;
      EXPECT_EQ(conv->options.stride()->at(0), 2);
    }
    EXPECT_EQ(model->patch_embed->projection->weight.sizes(),
              (std::vector<int64_t>{16, halvings ? 16 : 3, 1, 1}));
    const VitFeatures features = model->forward_features(torch::randn({2, 3, 16, 16}), false);
    EXPECT_EQ(features.tokens.sizes(), (std::vector<int64_t>{2, (16 / patch) * (16 / patch), 16}));
  }
  // Unlike the patch stem, a pixel change reaches the neighbouring patch's token.
  torch::manual_seed(0);
  ModelConfig config = tiny_config(RouterKind::kDense, 1, 8, 4);
  config.stem = Stem::kConv;
  PatchEmbed stem(config);
  torch::Tensor images = torch::randn({1, 1, 8, 8});
  const torch::Tensor before = stem->forward(images);
  images[0][0][3][3] += 10;  // last pixel of patch (0, 0)
  const torch::Tensor changed = (stem->forward(images) - before).abs().sum(2).squeeze(0) > 0;
  EXPECT_TRUE(changed[0].item<bool>());
  EXPECT_TRUE(changed[3].item<bool>());  // patch (1, 1) sees it through the overlap
}

TEST(VisionTransformer, ClassTokenPoolingAddsOneToken) {
  ModelConfig config = tiny_config(RouterKind::kSoft);
  config.pooling = Pooling::kClassToken;
  VisionTransformer model(config);
  EXPECT_EQ(model->position_embedding.size(1), 17);
  const VitFeatures features = model->forward_features(torch::randn({2, 1, 8, 8}), true);
  EXPECT_EQ(features.tokens.sizes(), (std::vector<int64_t>{2, 17, 16}));
  EXPECT_EQ(model->forward(torch::randn({2, 1, 8, 8})).logits.sizes(),
            (std::vector<int64_t>{2, 5}));
}

TEST(VisionTransformer, WrongImageShapeIsAClearError) {
  VisionTransformer model(tiny_config(RouterKind::kTopK));
  try {
    model->forward(torch::randn({2, 3, 8, 8}));
    FAIL() << "expected an error";
  } catch (const c10::Error& error) {
    EXPECT_NE(std::string(error.what_without_backtrace()).find("expected images [B, 1, 8, 8]"),
              std::string::npos);
  }
}

TEST(VisionTransformer, RoutingIsKeptOnlyWhenAskedForEachMoeBlock) {
  VisionTransformer model(tiny_config(RouterKind::kTopK));  // every 2 → blocks 1 and 3
  const torch::Tensor images = torch::randn({2, 1, 8, 8});
  EXPECT_TRUE(model->forward(images).routing.empty());
  const VitOutput out = model->forward(images, /*keep_routing=*/true);
  ASSERT_EQ(out.routing.size(), 2u);
  EXPECT_EQ(out.routing[0].block, 1);
  EXPECT_EQ(out.routing[1].block, 3);
  const DispatchPlan& plan = out.routing[0].routing.plan;
  EXPECT_EQ(plan.expert_index.sizes(), (std::vector<int64_t>{2, 16, 2}));
  EXPECT_EQ(routing_stats(plan).assignments, 2 * 16 * 2);
  // The summed aux loss is the sum of the layers'.
  EXPECT_NEAR(out.aux.total.item<float>(),
              (out.routing[0].routing.aux.total + out.routing[1].routing.aux.total).item<float>(),
              1e-6);
}

TEST(VisionTransformer, PlacementRules) {
  ModelConfig config = tiny_config(RouterKind::kTopK);
  config.depth = 6;
  EXPECT_EQ(moe_block_ids(config), (std::vector<int64_t>{1, 3, 5}));
  config.placement.last = 2;
  EXPECT_EQ(moe_block_ids(config), (std::vector<int64_t>{3, 5}));
  config.depth = 8;
  EXPECT_EQ(moe_block_ids(config), (std::vector<int64_t>{5, 7}));  // vmoe S/32 "last 2"
  config.placement.blocks = {0, 4, 4};
  EXPECT_EQ(moe_block_ids(config), (std::vector<int64_t>{0, 4}));
  config.moe.router = RouterKind::kDense;
  EXPECT_TRUE(moe_block_ids(config).empty());
  VisionTransformer model(tiny_config(RouterKind::kSoft));
  EXPECT_EQ(model->moe_layers().size(), 2u);
}

TEST(VisionTransformer, ParameterCountsSparseAndActive) {
  ModelConfig config = tiny_config(RouterKind::kTopK);
  VisionTransformer dense_model(tiny_config(RouterKind::kDense));
  VisionTransformer moe_model(config);
  const ParameterCount dense = count_parameters(*dense_model);
  const ParameterCount moe = count_parameters(*moe_model);
  const int64_t per_expert = 16 * 32 + 32 + 32 * 16 + 16;  // equals one dense MLP
  EXPECT_EQ(dense.expert, 0);
  EXPECT_DOUBLE_EQ(dense.active_per_token, static_cast<double>(dense.total));
  EXPECT_EQ(moe.expert, 2 * 4 * per_expert);
  // Two MoE blocks replace two dense MLPs, add two routers [16, 4] and 3 extra experts each.
  EXPECT_EQ(moe.total, dense.total + 2 * (3 * per_expert + 16 * 4));
  // Active: K = 2 experts per token in each MoE layer.
  EXPECT_DOUBLE_EQ(moe.active_per_token,
                   static_cast<double>(dense.total + 2 * (per_expert + 16 * 4)));
}

TEST(VisionTransformer, ExpertWidthHalvedAtKTwoMatchesTheDenseActiveCompute) {
  ModelConfig config = tiny_config(RouterKind::kTopK);  // K = 2, 4 experts, mlp_dim 32
  config.moe.expert_mlp_dim = 16;
  VisionTransformer dense_model(tiny_config(RouterKind::kDense));
  VisionTransformer moe_model(config);
  const ParameterCount dense = count_parameters(*dense_model);
  const ParameterCount moe = count_parameters(*moe_model);
  const int64_t dense_mlp = 16 * 32 + 32 + 32 * 16 + 16;
  const int64_t half_expert = 16 * 16 + 16 + 16 * 16 + 16;
  EXPECT_EQ(moe.expert, 2 * 4 * half_expert);
  // Two active half-width experts hold the dense MLP's weights plus one more output bias.
  EXPECT_DOUBLE_EQ(moe.active_per_token, static_cast<double>(dense.total - 2 * dense_mlp +
                                                             2 * (2 * half_expert + 16 * 4)));
  const torch::Tensor images = torch::randn({2, 1, 8, 8});
  EXPECT_EQ(moe_model->forward(images).logits.sizes(), (torch::IntArrayRef{2, 5}));
}

TEST(VisionTransformer, SharedExpertsCountAsActiveParameters) {
  ModelConfig config = tiny_config(RouterKind::kTopK);  // 2 MoE blocks, D = 16, K = 2
  VisionTransformer plain_model(config);
  config.moe.shared_experts = 2;
  config.moe.shared_expert_mlp_dim = 8;  // one MLP of width 2 · 8 per MoE layer
  VisionTransformer shared_model(config);
  const ParameterCount plain = count_parameters(*plain_model);
  const ParameterCount shared = count_parameters(*shared_model);
  const int64_t shared_mlp = 16 * 16 + 16 + 16 * 16 + 16;
  EXPECT_EQ(shared.total, plain.total + 2 * shared_mlp);
  EXPECT_EQ(shared.expert, plain.expert);  // not routed experts
  EXPECT_DOUBLE_EQ(shared.active_per_token, plain.active_per_token + 2 * shared_mlp);
}

TEST(VisionTransformer, ExpertChoiceActiveExpertsPerTokenAreEcOverS) {
  VisionTransformer dense_model(tiny_config(RouterKind::kDense));
  ModelConfig config = tiny_config(RouterKind::kExpertChoice);  // k = 2 is ignored
  VisionTransformer moe_model(config);
  const ParameterCount dense = count_parameters(*dense_model);
  const ParameterCount moe = count_parameters(*moe_model);
  const int64_t per_expert = 16 * 32 + 32 + 32 * 16 + 16;
  // S = 16 tokens, E = 4, C = ceil(16 · 1.05 / 4) = 5: 4 · 5 / 16 = 1.25 experts per token.
  EXPECT_EQ(moe.expert, 2 * 4 * per_expert);
  EXPECT_DOUBLE_EQ(
      moe.active_per_token,
      static_cast<double>(dense.total - 2 * per_expert + 2 * 16 * 4) + 2 * 1.25 * per_expert);
  // The model routes with it: K = E entries per token in the kept plans.
  const VitOutput out = moe_model->forward(torch::randn({2, 1, 8, 8}), /*keep_routing=*/true);
  ASSERT_EQ(out.routing.size(), 2u);
  EXPECT_EQ(out.routing[0].routing.plan.expert_index.sizes(), (std::vector<int64_t>{2, 16, 4}));
  EXPECT_EQ(routing_stats(out.routing[0].routing.plan).assignments, 2 * 4 * 5);
}

TEST(VisionTransformer, ConfigRefusalsNameTheKey) {
  const auto message_of = [](const ModelConfig& config) -> std::string {
    try {
      check_model_config(config);
    } catch (const std::invalid_argument& error) {
      return error.what();
    }
    return "";
  };
  ModelConfig config = tiny_config(RouterKind::kTopK);
  config.image_size = 9;
  EXPECT_EQ(message_of(config),
            "model.image_size: expected a multiple of model.patch_size (2), got 9");
  config = tiny_config(RouterKind::kTopK);
  config.moe.experts_per_token = 5;
  EXPECT_EQ(message_of(config).rfind("moe.k:", 0), 0u);
  config = tiny_config(RouterKind::kTopK);
  config.moe.capacity_factor = 0;
  EXPECT_EQ(message_of(config).rfind("moe.capacity_factor:", 0), 0u);
  config = tiny_config(RouterKind::kTopK);
  config.heads = 3;
  EXPECT_EQ(message_of(config).rfind("model.heads:", 0), 0u);
  config = tiny_config(RouterKind::kTopK);
  config.channels = 2;
  EXPECT_EQ(message_of(config).rfind("model.channels:", 0), 0u);
  config = tiny_config(RouterKind::kTopK);
  config.placement.blocks = {4};
  EXPECT_EQ(message_of(config).rfind("moe.blocks:", 0), 0u);
  EXPECT_EQ(message_of(tiny_config(RouterKind::kSoft)), "");
}

TEST(Attention, SelfMaskedWeightsAreTheSoftmaxOverTheOtherTokens) {
  torch::manual_seed(0);
  const torch::Tensor query = torch::randn({2, 3, 5, 4}, torch::kDouble),
                      key = torch::randn({2, 3, 5, 4}, torch::kDouble);
  const torch::Tensor weights = attention_weights(query, key, /*mask_self=*/true);
  const torch::Tensor plain = attention_weights(query, key, /*mask_self=*/false);
  const torch::Tensor scores = torch::matmul(query, key.transpose(-2, -1));
  for (int64_t i = 0; i < 5; ++i) {
    EXPECT_TRUE((weights.select(-2, i).select(-1, i) == 0).all().item<bool>()) << i;
    // Over j ≠ i: exp(s_ij) / Σ_{l≠i} exp(s_il), the plain softmax renormalised without i.
    const torch::Tensor others = scores.select(-2, i).exp();
    const torch::Tensor without_self =
        others.sum(-1, /*keepdim=*/true) - others.select(-1, i).unsqueeze(-1);
    for (int64_t j = 0; j < 5; ++j) {
      if (j == i) continue;
      EXPECT_TRUE(torch::allclose(weights.select(-2, i).select(-1, j),
                                  others.select(-1, j) / without_self.squeeze(-1)))
          << i << "," << j;
    }
  }
  EXPECT_TRUE(torch::allclose(weights.sum(-1), torch::ones({2, 3, 5}, torch::kDouble)));
  EXPECT_TRUE(torch::allclose(plain, torch::softmax(scores, -1)));
}

TEST(Attention, LocalitySelfAttentionLearnsOneScalePerHead) {
  Attention standard(16, 4);
  EXPECT_FALSE(standard->named_parameters().contains("scale"));  // checkpoints stay as they were
  Attention lsa(16, 4, 0.0, AttentionKind::kLocalitySelf);
  ASSERT_TRUE(lsa->named_parameters().contains("scale"));
  EXPECT_TRUE(torch::equal(lsa->scale, torch::full({4}, 0.5)));  // head_dim 4: 4^-1/2
  const torch::Tensor tokens = torch::randn({2, 6, 16});
  lsa->forward(tokens).square().sum().backward();
  ASSERT_TRUE(lsa->scale.grad().defined());
  EXPECT_GT(lsa->scale.grad().abs().min().item<float>(), 0.0f);
  // Same weights, scale at its start: LSA differs from standard attention only by the mask.
  torch::NoGradGuard no_grad;
  for (const auto& item : standard->named_parameters())
    item.value().copy_(lsa->named_parameters()[item.key()]);
  EXPECT_FALSE(torch::allclose(lsa->forward(tokens), standard->forward(tokens), 1e-4, 1e-5));
}

TEST(VisionTransformer, LocalitySelfAttentionModelTrainsInEveryMode) {
  for (RouterKind router :
       {RouterKind::kDense, RouterKind::kTopK, RouterKind::kPriority, RouterKind::kSoft}) {
    ModelConfig config = tiny_config(router);
    config.attention = AttentionKind::kLocalitySelf;
    VisionTransformer model(config);
    const VitOutput out = model->forward(torch::randn({3, 1, 8, 8}));
    EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
    (out.logits.square().sum() + out.aux.total).backward();
    const torch::Tensor scale_grad = model->named_parameters()["blocks.0.attention.scale"].grad();
    ASSERT_TRUE(scale_grad.defined());
    EXPECT_EQ(scale_grad.numel(), config.heads);
    EXPECT_TRUE(torch::isfinite(scale_grad).all().item<bool>());
  }
}

}  // namespace
}  // namespace moevit
