#include "app/train/mixup.h"

#include <gtest/gtest.h>

#include <cmath>

namespace moevit {
namespace {

// Image i of the batch is the constant i, one channel, size × size.
torch::Tensor constant_images(int64_t batch, int64_t size) {
  return torch::arange(batch, torch::kFloat)
      .view({batch, 1, 1, 1})
      .expand({batch, 1, size, size})
      .contiguous();
}

MixupOptions options_with(double mixup_alpha, double cutmix_alpha) {
  MixupOptions options;
  options.mixup_alpha = mixup_alpha;
  options.cutmix_alpha = cutmix_alpha;
  options.num_classes = 4;
  return options;
}

TEST(Mixup, SmoothedOneHotHasTimmsValues) {
  const torch::Tensor targets = smoothed_one_hot(torch::tensor({2, 0}), 4, 0.1);
  const torch::Tensor expected =
      torch::tensor({{0.025f, 0.025f, 0.925f, 0.025f}, {0.925f, 0.025f, 0.025f, 0.025f}});
  EXPECT_TRUE(torch::allclose(targets, expected));
  EXPECT_TRUE(torch::equal(smoothed_one_hot(torch::tensor({1}), 3, 0.0),
                           torch::tensor({{0.0f, 1.0f, 0.0f}})));
}

TEST(Mixup, MixupBlendsEachImageWithItsMirrorAndTheTargetsAlike) {
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3});
  std::mt19937 generator(5);
  const MixedBatch mixed =
      mix_batch(constant_images(4, 2), labels, options_with(1.0, 0), generator);
  ASSERT_FALSE(mixed.cutmix);
  const double lambda = mixed.lambda;
  ASSERT_GT(lambda, 0.0);
  ASSERT_LT(lambda, 1.0);
  for (int64_t i = 0; i < 4; ++i) {
    // Image i mixed with image 3 - i: lambda · i + (1 - lambda) · (3 - i) in every pixel.
    const double value = lambda * i + (1 - lambda) * (3 - i);
    EXPECT_NEAR(mixed.images[i].max().item<float>(), value, 1e-5);
    EXPECT_NEAR(mixed.images[i].min().item<float>(), value, 1e-5);
    EXPECT_NEAR(mixed.targets[i][i].item<float>(), lambda, 1e-6);
    EXPECT_NEAR(mixed.targets[i][3 - i].item<float>(), 1 - lambda, 1e-6);
  }
  EXPECT_TRUE(torch::allclose(mixed.targets.sum(1), torch::ones({4})));
}

TEST(Mixup, CutMixPastesOneBoxWhoseAreaIsOneMinusLambda) {
  const torch::Tensor labels = torch::tensor({0, 1});
  int64_t boxes_seen = 0;
  for (uint32_t seed = 0; seed < 20; ++seed) {
    std::mt19937 generator(seed);
    MixupOptions options = options_with(0, 1.0);
    options.label_smoothing = 0.1;
    const MixedBatch mixed = mix_batch(constant_images(2, 16), labels, options, generator);
    ASSERT_TRUE(mixed.cutmix);
    // Image 0 (zeros) received a rectangle of image 1 (ones).
    const torch::Tensor pasted = mixed.images[0][0].gt(0.5);
    const int64_t area = pasted.sum().item<int64_t>();
    const int64_t rows = pasted.any(1).sum().item<int64_t>();
    const int64_t cols = pasted.any(0).sum().item<int64_t>();
    EXPECT_EQ(area, rows * cols);
    EXPECT_DOUBLE_EQ(mixed.lambda, 1.0 - area / 256.0);
    // The targets follow the corrected lambda, smoothing folded in; each row sums to 1.
    EXPECT_NEAR(mixed.targets[0][0].item<float>(),
                mixed.lambda * 0.925 + (1 - mixed.lambda) * 0.025, 1e-6);
    EXPECT_TRUE(torch::allclose(mixed.targets.sum(1), torch::ones({2})));
    boxes_seen += area > 0;
  }
  EXPECT_GT(boxes_seen, 10);
}

TEST(Mixup, CutMixBoxHasSidesOfRootOneMinusLambdaClippedToTheImage) {
  std::mt19937 generator(3);
  bool whole_box_seen = false;
  for (int draw = 0; draw < 200; ++draw) {
    const CutBox box = cutmix_box(16, 16, 0.75, generator);  // sides 16 · sqrt(0.25) = 8
    EXPECT_GE(box.top, 0);
    EXPECT_GE(box.left, 0);
    EXPECT_LE(box.top + box.height, 16);
    EXPECT_LE(box.left + box.width, 16);
    EXPECT_LE(box.height, 8);
    EXPECT_LE(box.width, 8);
    whole_box_seen |= box.height == 8 && box.width == 8;
  }
  EXPECT_TRUE(whole_box_seen);
}

TEST(Mixup, SameGeneratorSameMixAndUnmixedBatchesKeepTheirImages) {
  const torch::Tensor images = torch::rand({6, 3, 8, 8});
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3, 0, 1});
  const MixupOptions options = options_with(0.8, 1.0);
  std::mt19937 first(9), second(9);
  const MixedBatch a = mix_batch(images, labels, options, first);
  const MixedBatch b = mix_batch(images, labels, options, second);
  EXPECT_TRUE(torch::equal(a.images, b.images));
  EXPECT_TRUE(torch::equal(a.targets, b.targets));
  EXPECT_EQ(a.cutmix, b.cutmix);

  MixupOptions never = options;
  never.probability = 0;
  never.label_smoothing = 0.1;
  std::mt19937 generator(9);
  const MixedBatch kept = mix_batch(images, labels, never, generator);
  EXPECT_TRUE(torch::equal(kept.images, images));
  EXPECT_TRUE(torch::equal(kept.targets, smoothed_one_hot(labels, 4, 0.1)));
  EXPECT_EQ(kept.lambda, 1.0);
}

TEST(Mixup, SoftTargetCrossEntropyIsCrossEntropyForHardTargets) {
  EXPECT_NEAR(
      soft_target_cross_entropy(torch::zeros({2, 4}), smoothed_one_hot(torch::tensor({1, 3}), 4, 0))
          .item<float>(),
      std::log(4.0), 1e-6);
  const torch::Tensor logits = torch::randn({5, 4});
  const torch::Tensor labels = torch::tensor({0, 3, 2, 1, 1});
  EXPECT_NEAR(soft_target_cross_entropy(logits, smoothed_one_hot(labels, 4, 0)).item<float>(),
              torch::nn::functional::cross_entropy(logits, labels).item<float>(), 1e-5);
}

}  // namespace
}  // namespace moevit
