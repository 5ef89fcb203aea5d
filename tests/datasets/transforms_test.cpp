#include "datasets/transforms.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <opencv2/core.hpp>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using namespace testing;  // moevit::testing, tests/support/test_files.h

// Mean 0, std 1 per channel: the output is pixel / 255, so a test can read pixels back.
TransformOptions identity_normalisation(int64_t image_size, int64_t channels) {
  TransformOptions options;
  options.image_size = image_size;
  options.channels = channels;
  options.mean.assign(channels, 0.0);
  options.std.assign(channels, 1.0);
  return options;
}

// Column x holds 10·x + row: asymmetric left-right and top-bottom.
cv::Mat gradient(int rows, int cols) {
  cv::Mat image(rows, cols, CV_8UC1);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) image.at<uint8_t>(y, x) = static_cast<uint8_t>(10 * x + y);
  return image;
}

at::Tensor as_pixels(const at::Tensor& normalised) {
  return (normalised * 255).round();
}

at::Tensor pixels_of(const cv::Mat& image) {  // [H,W] 8-bit → [1,H,W] float
  return at::from_blob(image.data, {1, image.rows, image.cols}, at::kByte).to(at::kFloat);
}

TEST(TransformOptions, CheckNamesTheField) {
  const struct {
    std::function<void(TransformOptions&)> change;
    const char* field;
  } cases[] = {
      {[](TransformOptions& o) { o.image_size = 0; }, "transform.image_size: expected"},
      {[](TransformOptions& o) { o.channels = 2; }, "transform.channels: expected 1 or 3, got 2"},
      {[](TransformOptions& o) { o.mean = {0.5}; }, "transform.mean: expected 3 values"},
      {[](TransformOptions& o) {
         o.std = {0.2, 0.0, 0.2};
       },
       "transform.std: expected 3 values"},
      {[](TransformOptions& o) { o.scale_min = 0.9, o.scale_max = 0.5; }, "transform.scale_min"},
      {[](TransformOptions& o) { o.scale_max = 1.5; }, "transform.scale_max"},
      {[](TransformOptions& o) { o.ratio_min = 0; }, "transform.ratio_min"},
      {[](TransformOptions& o) { o.pad = -1; }, "transform.pad"},
      {[](TransformOptions& o) { o.hflip_probability = 2; }, "transform.hflip_probability"},
      {[](TransformOptions& o) { o.crop_fraction = 1.1; }, "transform.crop_fraction"},
      {[](TransformOptions& o) { o.erase_probability = -1; }, "transform.erase_probability"},
      {[](TransformOptions& o) { o.erase_area_min = 0.5; }, "transform.erase_area_min"},
      {[](TransformOptions& o) { o.erase_area_max = 1; }, "transform.erase_area_max"},
      {[](TransformOptions& o) { o.erase_ratio_min = 2; }, "transform.erase_ratio_min"},
      {[](TransformOptions& o) { o.color_jitter = -1; }, "transform.color_jitter: expected"},
      {[](TransformOptions& o) { o.auto_augment.magnitude = 31; }, "auto_augment.magnitude"},
  };
  EXPECT_NO_THROW(TransformOptions().check());
  for (const auto& bad : cases) {
    TransformOptions options;
    bad.change(options);
    EXPECT_THROW(options.check(), std::invalid_argument) << bad.field;
    EXPECT_EQ(error_message([&] { options.check(); }).rfind(bad.field, 0), 0u) << bad.field;
  }
}

TEST(Transforms, NormalisationIsExactOnConstantImages) {
  TransformOptions options;
  options.image_size = 6;
  options.mean = {0.5, 0.0, 1.0};
  options.std = {0.5, 1.0, 0.25};
  std::mt19937 generator(0);
  for (TransformMode mode : {TransformMode::kEval, TransformMode::kTrain}) {
    const at::Tensor white =
        transform_image(cv::Mat(9, 13, CV_8UC3, cv::Scalar::all(255)), options, mode, generator);
    ASSERT_EQ(white.sizes().vec(), (std::vector<int64_t>{3, 6, 6}));
    EXPECT_EQ(white.dtype(), at::kFloat);
    EXPECT_TRUE(white[0].eq(1.0f).all().item<bool>());  // (1 - 0.5) / 0.5
    EXPECT_TRUE(white[1].eq(1.0f).all().item<bool>());  // (1 - 0) / 1
    EXPECT_TRUE(white[2].eq(0.0f).all().item<bool>());  // (1 - 1) / 0.25
    const at::Tensor black =
        transform_image(cv::Mat(9, 13, CV_8UC3, cv::Scalar::all(0)), options, mode, generator);
    EXPECT_TRUE(black[0].eq(-1.0f).all().item<bool>());
    EXPECT_TRUE(black[1].eq(0.0f).all().item<bool>());
    EXPECT_TRUE(black[2].eq(-4.0f).all().item<bool>());
  }
}

TEST(Transforms, ChannelOrderIsKept) {
  TransformOptions options = identity_normalisation(2, 3);
  std::mt19937 generator(0);
  const at::Tensor out = transform_image(cv::Mat(2, 2, CV_8UC3, cv::Scalar(51, 102, 255)), options,
                                         TransformMode::kEval, generator);
  EXPECT_FLOAT_EQ(out[0][0][0].item<float>(), 0.2f);
  EXPECT_FLOAT_EQ(out[1][1][1].item<float>(), 0.4f);
  EXPECT_FLOAT_EQ(out[2][0][1].item<float>(), 1.0f);
}

TEST(Transforms, EvalCropsTheCentre) {
  std::mt19937 generator(0);
  TransformOptions options = identity_normalisation(4, 1);
  options.crop_fraction = 1.0;  // shorter side resized to exactly 4: here already 4
  const cv::Mat wide = gradient(4, 8);
  const at::Tensor out = transform_image(wide, options, TransformMode::kEval, generator);
  EXPECT_TRUE(as_pixels(out).equal(pixels_of(wide).narrow(2, 2, 4)));  // columns 2..5

  options.crop_fraction = 0.5;  // shorter side to floor(4 / 0.5) = 8: an 8×8 image stays
  const cv::Mat square = gradient(8, 8);
  const at::Tensor centre = transform_image(square, options, TransformMode::kEval, generator);
  EXPECT_TRUE(as_pixels(centre).equal(pixels_of(square).narrow(1, 2, 4).narrow(2, 2, 4)));
}

TEST(Transforms, EvalResizesTheShorterSide) {
  std::mt19937 generator(0);
  TransformOptions options = identity_normalisation(4, 1);
  options.crop_fraction = 1.0;
  // 8×16 → shorter side 4 → 4×8 → centre 4×4; a constant image keeps its value.
  const at::Tensor out = transform_image(cv::Mat(16, 8, CV_8UC1, cv::Scalar(102)), options,
                                         TransformMode::kEval, generator);
  ASSERT_EQ(out.sizes().vec(), (std::vector<int64_t>{1, 4, 4}));
  EXPECT_TRUE(as_pixels(out).eq(102).all().item<bool>());
}

TEST(Transforms, FlipReallyFlips) {
  TransformOptions options = identity_normalisation(6, 1);
  options.scale_min = options.scale_max = 1.0;  // the whole image,
  options.ratio_min = options.ratio_max = 1.0;  // unscaled: only the flip is left
  const cv::Mat image = gradient(6, 6);
  std::mt19937 generator(3);
  options.hflip_probability = 0.0;
  const at::Tensor kept = transform_image(image, options, TransformMode::kTrain, generator);
  EXPECT_TRUE(as_pixels(kept).equal(pixels_of(image)));
  options.hflip_probability = 1.0;
  const at::Tensor flipped = transform_image(image, options, TransformMode::kTrain, generator);
  EXPECT_TRUE(as_pixels(flipped).equal(pixels_of(image).flip({2})));
}

TEST(Transforms, PadAndRandomCropShiftsTheImage) {
  TransformOptions options = identity_normalisation(6, 1);
  options.random_resized_crop = false;
  options.hflip_probability = 0.0;
  options.pad = 0;
  const cv::Mat image = gradient(6, 6);
  std::mt19937 generator(5);
  EXPECT_TRUE(as_pixels(transform_image(image, options, TransformMode::kTrain, generator))
                  .equal(pixels_of(image)));

  // With padding 2 a constant white image shows a black border of 0 to 2 pixels at the top
  // or bottom and at the left or right; the white part is a (6-|dy|)×(6-|dx|) rectangle.
  options.pad = 2;
  bool some_shift = false;
  for (int seed = 0; seed < 20; ++seed) {
    std::mt19937 seeded(seed);
    const at::Tensor out = as_pixels(transform_image(cv::Mat(6, 6, CV_8UC1, cv::Scalar(255)),
                                                     options, TransformMode::kTrain, seeded))[0];
    const int64_t white_rows = out.eq(255).any(1).sum().item<int64_t>();
    const int64_t white_cols = out.eq(255).any(0).sum().item<int64_t>();
    EXPECT_GE(white_rows, 4);
    EXPECT_GE(white_cols, 4);
    EXPECT_EQ(out.eq(255).sum().item<int64_t>(), white_rows * white_cols);
    EXPECT_EQ(out.eq(0).sum().item<int64_t>(), 36 - white_rows * white_cols);
    some_shift |= white_rows * white_cols < 36;
  }
  EXPECT_TRUE(some_shift);
}

TEST(Transforms, RandomResizedCropBoxStaysInsideAndInRange) {
  TransformOptions options;
  std::mt19937 generator(11);
  for (int draw = 0; draw < 200; ++draw) {
    const CropBox box = random_resized_crop_box(/*height=*/60, /*width=*/90, options, generator);
    EXPECT_GE(box.top, 0);
    EXPECT_GE(box.left, 0);
    EXPECT_LE(box.top + box.height, 60);
    EXPECT_LE(box.left + box.width, 90);
    const double area_fraction = static_cast<double>(box.height * box.width) / (60 * 90);
    EXPECT_GE(area_fraction, 0.08 * 0.8);  // rounding of the sides moves it a little
    EXPECT_LE(area_fraction, 1.0);
  }
  // No ratio-2 crop of the whole area fits a square: the fallback cuts the height.
  options.scale_min = options.scale_max = 1.0;
  options.ratio_min = options.ratio_max = 2.0;
  const CropBox fallback = random_resized_crop_box(10, 10, options, generator);
  EXPECT_EQ(fallback.top, 2);
  EXPECT_EQ(fallback.left, 0);
  EXPECT_EQ(fallback.height, 5);
  EXPECT_EQ(fallback.width, 10);
}

TEST(Transforms, TrainIsReproducibleFromTheGenerator) {
  TransformOptions options = identity_normalisation(8, 1);
  cv::Mat noise(20, 30, CV_8UC1);
  cv::randu(noise, 0, 256);
  std::mt19937 first(42), second(42), other(43);
  const at::Tensor a = transform_image(noise, options, TransformMode::kTrain, first);
  EXPECT_TRUE(a.equal(transform_image(noise, options, TransformMode::kTrain, second)));
  EXPECT_FALSE(a.equal(transform_image(noise, options, TransformMode::kTrain, other)));
  EXPECT_GE(a.min().item<float>(), 0.0f);
  EXPECT_LE(a.max().item<float>(), 1.0f);
}

TEST(Transforms, RandomErasingFillsOneRectangleOfEveryChannel) {
  TransformOptions options = identity_normalisation(28, 3);
  const cv::Mat image(28, 28, CV_8UC3, cv::Scalar(255, 255, 255));  // 1.0 everywhere
  std::mt19937 kept_stream(7), erased_stream(7);
  const at::Tensor kept = transform_image(image, options, TransformMode::kTrain, kept_stream);
  options.erase_probability = 1.0;
  int64_t erased_images = 0;
  for (int draw = 0; draw < 50; ++draw) {
    const at::Tensor out = transform_image(image, options, TransformMode::kTrain, erased_stream);
    // Noise replaces the pixels of one rectangle, the same in every channel; the rest is kept.
    const at::Tensor changed = out.ne(1.0f);
    EXPECT_TRUE(changed[0].equal(changed[1]));
    EXPECT_TRUE(changed[0].equal(changed[2]));
    const int64_t rows = changed[0].any(1).sum().item<int64_t>();
    const int64_t cols = changed[0].any(0).sum().item<int64_t>();
    EXPECT_EQ(changed[0].sum().item<int64_t>(), rows * cols);  // a rectangle, filled
    if (rows == 0) continue;                                   // no box fitted in 10 tries
    ++erased_images;
    const double area_fraction = static_cast<double>(rows * cols) / (28 * 28);
    EXPECT_GE(area_fraction, 0.02 * 0.5);  // rounding of the sides moves it a little
    EXPECT_LE(area_fraction, 1.0 / 3 * 1.5);
    const at::Tensor noise = out.masked_select(changed);
    EXPECT_NEAR(noise.mean().item<float>(), 0.0f, 0.6f);  // N(0, 1)
  }
  EXPECT_GE(erased_images, 45);
  // Probability 0 draws nothing: the stream, and so every later image, is unchanged.
  EXPECT_TRUE(kept.equal(at::ones_like(kept)));
  options.erase_probability = 0.0;
  std::mt19937 off_stream(7);
  transform_image(image, options, TransformMode::kTrain, off_stream);
  std::mt19937 reference(7);
  transform_image(image, identity_normalisation(28, 3), TransformMode::kTrain, reference);
  EXPECT_EQ(off_stream(), reference());
  // Evaluation never erases.
  options.erase_probability = 1.0;
  EXPECT_TRUE(transform_image(image, options, TransformMode::kEval, erased_stream)
                  .equal(at::ones_like(kept)));
}

TEST(Transforms, RandomErasingBoxFitsAndRespectsTheRatio) {
  TransformOptions options;
  std::mt19937 generator(3);
  for (int draw = 0; draw < 200; ++draw) {
    const CropBox box = random_erasing_box(28, options, generator);
    if (box.height == 0) continue;
    EXPECT_GE(box.top, 0);
    EXPECT_GE(box.left, 0);
    EXPECT_LE(box.top + box.height, 28);
    EXPECT_LE(box.left + box.width, 28);
    const double ratio = static_cast<double>(box.height) / box.width;
    EXPECT_GE(ratio, 0.3 * 0.6);  // rounding of small sides moves it
    EXPECT_LE(ratio, 1 / 0.3 / 0.6);
  }
}

TEST(Transforms, RefusesAnImageWithTheWrongChannelCount) {
  std::mt19937 generator(0);
  EXPECT_THROW(
      transform_image(cv::Mat(4, 4, CV_8UC1), TransformOptions(), TransformMode::kEval, generator),
      std::invalid_argument);
}

// RandAugment and colour jitter act on the 8-bit image the crop and flip made (identity here:
// no padding, no flip), before normalisation; off, they draw nothing from the generator.
TEST(Transforms, AutoAugmentAndColourJitterFollowTheGeometryAndDrawNothingWhenOff) {
  TransformOptions options = identity_normalisation(16, 1);
  options.random_resized_crop = false;
  options.pad = 0;
  options.hflip_probability = 0;
  cv::Mat image(16, 16, CV_8UC1);
  cv::randu(image, 0, 256);

  std::mt19937 off_stream(5), untouched(5);
  const at::Tensor off = transform_image(image, options, TransformMode::kTrain, off_stream);
  EXPECT_TRUE(as_pixels(off).equal(pixels_of(image)));
  std::mt19937 after_geometry = off_stream;  // the state the augmentations start from
  const TransformOptions defaults = identity_normalisation(16, 1);
  EXPECT_EQ(defaults.auto_augment.kind, AutoAugmentKind::kNone);
  EXPECT_EQ(defaults.color_jitter, 0.0);

  options.auto_augment = {AutoAugmentKind::kRandAugment, /*num_ops=*/2, /*magnitude=*/9};
  options.color_jitter = 0.4;
  std::mt19937 on_stream(5);
  const at::Tensor on = transform_image(image, options, TransformMode::kTrain, on_stream);
  cv::Mat expected = auto_augment(image, options.auto_augment, after_geometry);
  expected = color_jitter(expected, options.color_jitter, after_geometry);
  EXPECT_TRUE(as_pixels(on).equal(pixels_of(expected)));
  EXPECT_FALSE(on.equal(off));
  EXPECT_EQ(on_stream(), after_geometry());  // nothing else was drawn

  // Evaluation never augments.
  std::mt19937 eval_stream(5);
  options.crop_fraction = 1.0;
  EXPECT_TRUE(transform_image(image, options, TransformMode::kEval, eval_stream).equal(off));
  EXPECT_EQ(eval_stream(), untouched());
}

}  // namespace
}  // namespace moevit
