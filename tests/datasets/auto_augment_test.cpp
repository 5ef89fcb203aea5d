#include "datasets/auto_augment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <opencv2/core.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using namespace testing;  // moevit::testing, tests/support/test_files.h

constexpr AutoAugmentKind kPolicies[] = {AutoAugmentKind::kRandAugment,
                                         AutoAugmentKind::kTrivialAugment};

AugmentOp op_at(int index) {
  return static_cast<AugmentOp>(index);
}

// Every value 0..255 once per channel, placed differently in each channel: an image that
// auto-contrast and equalisation leave as it is.
cv::Mat all_values(int channels) {
  cv::Mat image(16, 16, CV_8UC(channels));
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < channels; ++c)
        image.ptr<uint8_t>(y)[x * channels + c] = static_cast<uint8_t>((16 * y + x + 85 * c) % 256);
  return image;
}

// Pixel (y, x) of a small 1-channel image holds 10·y + x + 1: asymmetric, and never the fill 0.
cv::Mat ramp(int rows, int cols) {
  cv::Mat image(rows, cols, CV_8UC1);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x) image.at<uint8_t>(y, x) = static_cast<uint8_t>(10 * y + x + 1);
  return image;
}

cv::Mat noise(int rows, int cols, int channels, uint64_t seed) {
  cv::Mat image(rows, cols, CV_8UC(channels));
  cv::RNG(seed).fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

TEST(AutoAugment, EveryOpAtItsNeutralParameterIsTheIdentity) {
  for (int channels : {1, 3}) {
    const cv::Mat image = all_values(channels);
    EXPECT_TRUE(same_pixels(augment_ops::identity(image), image));
    EXPECT_TRUE(same_pixels(augment_ops::shear_x(image, 0.0), image));
    EXPECT_TRUE(same_pixels(augment_ops::shear_y(image, 0.0), image));
    EXPECT_TRUE(same_pixels(augment_ops::translate_x(image, 0), image));
    EXPECT_TRUE(same_pixels(augment_ops::translate_y(image, 0), image));
    EXPECT_TRUE(same_pixels(augment_ops::rotate(image, 0.0), image));
    EXPECT_TRUE(same_pixels(augment_ops::rotate(image, 360.0), image));
    EXPECT_TRUE(same_pixels(augment_ops::brightness(image, 1.0), image));
    EXPECT_TRUE(same_pixels(augment_ops::color(image, 1.0), image));
    EXPECT_TRUE(same_pixels(augment_ops::contrast(image, 1.0), image));
    EXPECT_TRUE(same_pixels(augment_ops::sharpness(image, 1.0), image));
    EXPECT_TRUE(same_pixels(augment_ops::posterize(image, 8), image));
    EXPECT_TRUE(same_pixels(augment_ops::solarize(image, 256), image));
    // Already spanning 0..255 with a flat histogram: nothing to stretch or equalise.
    EXPECT_TRUE(same_pixels(augment_ops::auto_contrast(image), image));
    EXPECT_TRUE(same_pixels(augment_ops::equalize(image), image));
  }
}

TEST(AutoAugment, BinZeroChangesNothingButWhiteUnderSolarize) {
  const cv::Mat below_white = all_values(3) * (254.0 / 255.0);  // 0..254
  for (AutoAugmentKind kind : kPolicies)
    for (int index = 0; index < kNumAugmentOps; ++index) {
      const AugmentOp op = op_at(index);
      if (!augment_op_has_magnitude(op)) continue;
      const double magnitude = augment_op_magnitude(op, kind, /*bin=*/0, 31, 16, 16);
      EXPECT_TRUE(same_pixels(apply_augment_op(below_white, op, magnitude), below_white))
          << augment_op_name(op);
      if (augment_op_is_signed(op)) {  // the other sign: -0
        EXPECT_TRUE(same_pixels(apply_augment_op(below_white, op, -magnitude), below_white))
            << augment_op_name(op);
      }
    }
  // torchvision's solarize threshold at bin 0 is 255, and 255 >= 255 is inverted.
  const cv::Mat white(2, 2, CV_8UC1, cv::Scalar(255));
  const double threshold =
      augment_op_magnitude(AugmentOp::kSolarize, AutoAugmentKind::kRandAugment, 0, 31, 2, 2);
  EXPECT_EQ(cv::countNonZero(apply_augment_op(white, AugmentOp::kSolarize, threshold)), 0);
}

TEST(AutoAugment, MagnitudesFollowTheTorchvisionRanges) {
  const auto rand_augment = [](AugmentOp op, int bin) {
    return augment_op_magnitude(op, AutoAugmentKind::kRandAugment, bin, 31, /*height=*/331,
                                /*width=*/662);
  };
  const auto trivial_augment = [](AugmentOp op, int bin) {
    return augment_op_magnitude(op, AutoAugmentKind::kTrivialAugment, bin, 31, 331, 662);
  };
  EXPECT_NEAR(rand_augment(AugmentOp::kShearX, 9), 0.09, 1e-12);
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kTranslateX, 9), 90.0);  // 150/331 · 662 · 9/30
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kTranslateY, 9), 45.0);  // 150/331 · 331 · 9/30
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kRotate, 9), 9.0);
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kContrast, 30), 0.9);
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kPosterize, 0), 8.0);
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kPosterize, 3), 8.0);  // 8 - round(0.4)
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kPosterize, 4), 7.0);  // 8 - round(0.53): rounded
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kPosterize, 30), 4.0);
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kSolarize, 0), 255.0);
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kSolarize, 9), 178.5);
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kSolarize, 30), 0.0);
  EXPECT_DOUBLE_EQ(rand_augment(AugmentOp::kEqualize, 30), 0.0);

  EXPECT_DOUBLE_EQ(trivial_augment(AugmentOp::kShearY, 30), 0.99);
  EXPECT_DOUBLE_EQ(trivial_augment(AugmentOp::kTranslateX, 30), 32.0);  // absolute pixels
  EXPECT_DOUBLE_EQ(trivial_augment(AugmentOp::kTranslateY, 15), 16.0);
  EXPECT_DOUBLE_EQ(trivial_augment(AugmentOp::kRotate, 9), 40.5);
  EXPECT_DOUBLE_EQ(trivial_augment(AugmentOp::kSharpness, 30), 0.99);
  EXPECT_DOUBLE_EQ(trivial_augment(AugmentOp::kPosterize, 15), 5.0);
  EXPECT_DOUBLE_EQ(trivial_augment(AugmentOp::kPosterize, 30), 2.0);

  EXPECT_THROW(rand_augment(AugmentOp::kRotate, 31), std::invalid_argument);
  EXPECT_THROW(augment_op_magnitude(AugmentOp::kRotate, AutoAugmentKind::kNone, 0, 31, 8, 8),
               std::invalid_argument);
}

TEST(AutoAugment, TranslateMovesPixelsAndFills) {
  const cv::Mat image = ramp(4, 5);
  const cv::Mat right = augment_ops::translate_x(image, 2);
  EXPECT_EQ(right.at<uint8_t>(1, 3), image.at<uint8_t>(1, 1));  // 12 moved two to the right
  EXPECT_EQ(right.at<uint8_t>(1, 4), image.at<uint8_t>(1, 2));
  EXPECT_EQ(right.at<uint8_t>(1, 0), 0);  // the two columns it left are torchvision's fill 0
  EXPECT_EQ(right.at<uint8_t>(3, 1), 0);
  EXPECT_EQ(cv::countNonZero(right), 4 * 3);

  const cv::Mat up = augment_ops::translate_y(image, -1, /*fill=*/7);
  EXPECT_EQ(up.at<uint8_t>(0, 2), image.at<uint8_t>(1, 2));
  EXPECT_EQ(up.at<uint8_t>(2, 4), image.at<uint8_t>(3, 4));
  for (int x = 0; x < 5; ++x) EXPECT_EQ(up.at<uint8_t>(3, x), 7);

  // Through apply_augment_op the pixels are truncated toward zero, as torchvision's int().
  EXPECT_TRUE(same_pixels(apply_augment_op(image, AugmentOp::kTranslateX, 2.9), right));
  EXPECT_TRUE(same_pixels(apply_augment_op(image, AugmentOp::kTranslateX, -0.9), image));

  cv::Mat rgb(2, 3, CV_8UC3, cv::Scalar(1, 2, 3));
  rgb.at<cv::Vec3b>(0, 0) = cv::Vec3b(10, 20, 30);
  const cv::Mat moved = augment_ops::translate_x(rgb, 1, /*fill=*/9);
  EXPECT_EQ(moved.at<cv::Vec3b>(0, 1), cv::Vec3b(10, 20, 30));
  EXPECT_EQ(moved.at<cv::Vec3b>(1, 0), cv::Vec3b(9, 9, 9));
}

TEST(AutoAugment, RotateTurnsCounterClockwiseAboutTheCentre) {
  const cv::Mat image = (cv::Mat_<uint8_t>(3, 3) << 1, 2, 3, 4, 5, 6, 7, 8, 9);
  // 90 degrees counter-clockwise: the right column becomes the top row.
  const cv::Mat quarter = (cv::Mat_<uint8_t>(3, 3) << 3, 6, 9, 2, 5, 8, 1, 4, 7);
  EXPECT_TRUE(same_pixels(augment_ops::rotate(image, 90.0), quarter));
  const cv::Mat clockwise = (cv::Mat_<uint8_t>(3, 3) << 7, 4, 1, 8, 5, 2, 9, 6, 3);
  EXPECT_TRUE(same_pixels(augment_ops::rotate(image, -90.0), clockwise));
  const cv::Mat half = (cv::Mat_<uint8_t>(3, 3) << 9, 8, 7, 6, 5, 4, 3, 2, 1);
  EXPECT_TRUE(same_pixels(augment_ops::rotate(image, 180.0), half));

  // A 2×4 image about its centre (2, 1): output (x, y) reads input (2 - y, x - 1) (pixel
  // indices); the corners fall outside and take the fill.
  const cv::Mat wide = ramp(2, 4);
  const cv::Mat turned = augment_ops::rotate(wide, 90.0);
  EXPECT_EQ(turned.at<uint8_t>(0, 1), wide.at<uint8_t>(0, 2));  // 3
  EXPECT_EQ(turned.at<uint8_t>(1, 2), wide.at<uint8_t>(1, 1));  // 12
  EXPECT_EQ(turned.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(turned.at<uint8_t>(1, 3), 0);
}

TEST(AutoAugment, ShearKeepsTheTopRowAndShiftsLowerRows) {
  // shear_x 0.5 about the top-left corner: output (x, y) reads input x + 0.5·(y + ½) + ½ - ½,
  // i.e. rows 0..3 shift left by 0, 1, 1, 2 pixels.
  const cv::Mat image = ramp(4, 5);
  const cv::Mat sheared = augment_ops::shear_x(image, 0.5);
  for (int x = 0; x < 5; ++x) EXPECT_EQ(sheared.at<uint8_t>(0, x), image.at<uint8_t>(0, x));
  EXPECT_EQ(sheared.at<uint8_t>(1, 0), image.at<uint8_t>(1, 1));
  EXPECT_EQ(sheared.at<uint8_t>(2, 3), image.at<uint8_t>(2, 4));
  EXPECT_EQ(sheared.at<uint8_t>(3, 0), image.at<uint8_t>(3, 2));
  EXPECT_EQ(sheared.at<uint8_t>(3, 2), image.at<uint8_t>(3, 4));
  EXPECT_EQ(sheared.at<uint8_t>(3, 3), 0);
  // shear_y is shear_x of the transposed image.
  cv::Mat sheared_y;
  cv::transpose(augment_ops::shear_y(image.t(), 0.5), sheared_y);
  EXPECT_TRUE(same_pixels(sheared_y, sheared));
}

TEST(AutoAugment, SolarizeInvertsExactlyTheValuesAtOrAboveTheThreshold) {
  const cv::Mat image = all_values(1);
  const cv::Mat solarized = augment_ops::solarize(image, 128);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x) {
      const int value = image.at<uint8_t>(y, x);
      EXPECT_EQ(solarized.at<uint8_t>(y, x), value >= 128 ? 255 - value : value) << value;
    }
  cv::Mat inverted;
  cv::bitwise_not(image, inverted);
  EXPECT_TRUE(same_pixels(augment_ops::solarize(image, 0), inverted));
  // A fractional threshold (bin 9 of 31 gives 178.5) inverts 179 but not 178.
  const cv::Mat pair = (cv::Mat_<uint8_t>(1, 2) << 178, 179);
  const cv::Mat expected = (cv::Mat_<uint8_t>(1, 2) << 178, 76);
  EXPECT_TRUE(same_pixels(apply_augment_op(pair, AugmentOp::kSolarize, 178.5), expected));
}

TEST(AutoAugment, PosterizeKeepsTheTopBits) {
  const cv::Mat image = all_values(3);
  const cv::Mat posterized = augment_ops::posterize(image, 3);
  for (int y = 0; y < 16; ++y)
    for (int i = 0; i < 16 * 3; ++i)
      EXPECT_EQ(posterized.ptr<uint8_t>(y)[i], image.ptr<uint8_t>(y)[i] & 0xE0);
  EXPECT_EQ(cv::countNonZero(augment_ops::posterize(all_values(1), 0)), 0);
  EXPECT_THROW(augment_ops::posterize(image, 9), std::invalid_argument);
}

TEST(AutoAugment, AutoContrastStretchesEachChannelToTheFullRange) {
  const cv::Mat image = (cv::Mat_<uint8_t>(2, 3) << 50, 60, 75, 80, 99, 100);
  // (value - 50) · 255 / 50, truncated.
  const cv::Mat expected = (cv::Mat_<uint8_t>(2, 3) << 0, 51, 127, 153, 249, 255);
  EXPECT_TRUE(same_pixels(augment_ops::auto_contrast(image), expected));

  cv::Mat rgb(1, 2, CV_8UC3);
  rgb.at<cv::Vec3b>(0, 0) = cv::Vec3b(50, 30, 0);
  rgb.at<cv::Vec3b>(0, 1) = cv::Vec3b(100, 30, 200);
  const cv::Mat stretched = augment_ops::auto_contrast(rgb);
  EXPECT_EQ(stretched.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 30, 0));  // constant green is kept
  EXPECT_EQ(stretched.at<cv::Vec3b>(0, 1), cv::Vec3b(255, 30, 255));
}

TEST(AutoAugment, EqualizeSpreadsEachChannelOverTheFullRange) {
  cv::Mat image(8, 8, CV_8UC3);
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x)
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b(static_cast<uint8_t>(100 + (3 * y + x) % 21), static_cast<uint8_t>(40 + y), 77);
  std::vector<cv::Mat> channels;
  cv::split(augment_ops::equalize(image), channels);
  for (int c = 0; c < 2; ++c) {
    double low = 0, high = 0;
    cv::minMaxLoc(channels[c], &low, &high);
    EXPECT_EQ(low, 0) << c;
    EXPECT_EQ(high, 255) << c;
  }
  EXPECT_EQ(cv::countNonZero(channels[2] != 77), 0);  // a constant channel is kept
}

TEST(AutoAugment, EnhancementsBlendWithTheirDegenerateImage) {
  const cv::Mat gray = (cv::Mat_<uint8_t>(1, 3) << 101, 200, 255);
  EXPECT_TRUE(same_pixels(augment_ops::brightness(gray, 0.5),
                          (cv::Mat_<uint8_t>(1, 3) << 50, 100, 127)));  // truncated
  EXPECT_TRUE(same_pixels(augment_ops::brightness(gray, 2.0),
                          (cv::Mat_<uint8_t>(1, 3) << 202, 255, 255)));  // clipped

  // Contrast 0 is the mean of the grayscale image everywhere.
  const cv::Mat halves = (cv::Mat_<uint8_t>(2, 2) << 0, 100, 0, 100);
  EXPECT_TRUE(
      same_pixels(augment_ops::contrast(halves, 0.0), cv::Mat(2, 2, CV_8UC1, cv::Scalar(50))));

  // Colour 0 is the luma, 0.299 · 255 = 76.2 for pure red, in every channel.
  const cv::Mat red(1, 1, CV_8UC3, cv::Scalar(255, 0, 0));
  EXPECT_EQ(augment_ops::color(red, 0.0).at<cv::Vec3b>(0, 0), cv::Vec3b(76, 76, 76));

  // Sharpness 0 is the smoothed image, (8·13 + 5·130) / 13 = 58 in the centre, with the border
  // kept; sharpness 2 doubles the difference: 58 + 2·(130 - 58) = 202.
  cv::Mat spot(3, 3, CV_8UC1, cv::Scalar(13));
  spot.at<uint8_t>(1, 1) = 130;
  const cv::Mat smooth = augment_ops::sharpness(spot, 0.0);
  EXPECT_EQ(smooth.at<uint8_t>(1, 1), 58);
  EXPECT_EQ(smooth.at<uint8_t>(0, 0), 13);
  EXPECT_EQ(smooth.at<uint8_t>(2, 1), 13);
  EXPECT_EQ(augment_ops::sharpness(spot, 2.0).at<uint8_t>(1, 1), 202);
}

TEST(AutoAugment, GrayscaleStaysOneChannelThroughEveryOp) {
  const cv::Mat gray = noise(12, 10, 1, /*seed=*/5);
  for (int index = 0; index < kNumAugmentOps; ++index) {
    const AugmentOp op = op_at(index);
    const double magnitude =
        augment_op_magnitude(op, AutoAugmentKind::kTrivialAugment, 20, 31, 12, 10);
    const cv::Mat out = apply_augment_op(gray, op, magnitude);
    EXPECT_EQ(out.type(), CV_8UC1) << augment_op_name(op);
    EXPECT_EQ(out.size(), gray.size()) << augment_op_name(op);
  }
  // Saturation has nothing to act on: colour is the identity at any factor.
  EXPECT_TRUE(same_pixels(augment_ops::color(gray, 0.0), gray));
  std::mt19937 generator(1);
  for (int draw = 0; draw < 20; ++draw) {
    EXPECT_EQ(color_jitter(gray, 0.4, generator).type(), CV_8UC1);
    for (AutoAugmentKind kind : kPolicies) {
      AutoAugmentOptions options;
      options.kind = kind;
      EXPECT_EQ(auto_augment(gray, options, generator).type(), CV_8UC1);
    }
  }
}

TEST(AutoAugment, PoliciesAreReproducibleFromTheGenerator) {
  const cv::Mat image = noise(32, 24, 3, /*seed=*/9);
  for (AutoAugmentKind kind : kPolicies) {
    AutoAugmentOptions options;
    options.kind = kind;
    std::mt19937 first(42), second(42);
    const cv::Mat reference = auto_augment(image, options, first);
    EXPECT_TRUE(same_pixels(reference, auto_augment(image, options, second)));
    int different = 0;
    for (int seed = 0; seed < 10; ++seed) {
      std::mt19937 other(seed);
      different += !same_pixels(reference, auto_augment(image, options, other));
    }
    EXPECT_GE(different, 5);
  }
  std::mt19937 first(7), second(7), other(8);
  const cv::Mat jittered = color_jitter(image, 0.4, first);
  EXPECT_TRUE(same_pixels(jittered, color_jitter(image, 0.4, second)));
  EXPECT_FALSE(same_pixels(jittered, color_jitter(image, 0.4, other)));
}

TEST(AutoAugment, RandAugmentDrawsAnOpThenItsSignPerStep) {
  const cv::Mat image = noise(20, 20, 3, /*seed=*/3);
  AutoAugmentOptions options;
  options.kind = AutoAugmentKind::kRandAugment;
  options.num_ops = 3;
  options.magnitude = 12;
  for (int seed = 0; seed < 10; ++seed) {
    std::mt19937 generator(seed), replay(seed);
    cv::Mat expected = image;
    for (int step = 0; step < options.num_ops; ++step) {
      const AugmentOp op = op_at(std::uniform_int_distribution<int>(0, 13)(replay));
      double magnitude = augment_op_magnitude(op, options.kind, 12, 31, 20, 20);
      if (augment_op_is_signed(op) && std::bernoulli_distribution(0.5)(replay))
        magnitude = -magnitude;
      expected = apply_augment_op(expected, op, magnitude);
    }
    EXPECT_TRUE(same_pixels(auto_augment(image, options, generator), expected)) << seed;
    EXPECT_EQ(generator(), replay());
  }
}

TEST(AutoAugment, NothingToDoDrawsNothing) {
  const cv::Mat image = noise(6, 6, 3, /*seed=*/1);
  AutoAugmentOptions options;  // kNone
  std::mt19937 generator(11), reference(11);
  EXPECT_TRUE(same_pixels(auto_augment(image, options, generator), image));
  options.kind = AutoAugmentKind::kRandAugment;
  options.num_ops = 0;
  EXPECT_TRUE(same_pixels(auto_augment(image, options, generator), image));
  EXPECT_TRUE(same_pixels(color_jitter(image, 0.0, generator), image));
  EXPECT_EQ(generator(), reference());
}

TEST(AutoAugment, ColorJitterScalesAGrayImageByTheBrightnessFactor) {
  // On a constant gray image contrast (blend with its own mean) and saturation change nothing,
  // so the output is trunc(100 · brightness factor), the first factor drawn after the order.
  const cv::Mat image(4, 4, CV_8UC3, cv::Scalar::all(100));
  std::set<int> seen;
  for (int seed = 0; seed < 20; ++seed) {
    std::mt19937 generator(seed), replay(seed);
    std::array<int, 3> order = {0, 1, 2};
    std::shuffle(order.begin(), order.end(), replay);
    const double brightness = std::uniform_real_distribution<double>(0.5, 1.5)(replay);
    // In float and truncated, as the blend computes it.
    const int expected = static_cast<int>(static_cast<float>(brightness) * 100.0f);
    const cv::Mat jittered = color_jitter(image, 0.5, generator);
    EXPECT_TRUE(same_pixels(jittered, cv::Mat(4, 4, CV_8UC3, cv::Scalar::all(expected)))) << seed;
    seen.insert(expected);
  }
  EXPECT_GE(seen.size(), 10u);
  EXPECT_EQ(error_message([&] {
              std::mt19937 generator(0);
              color_jitter(image, -0.5, generator);
            }),
            "color_jitter.strength: expected a number >= 0, got -0.5");
}

TEST(AutoAugment, OptionsCheckNamesTheConfigKey) {
  EXPECT_NO_THROW(AutoAugmentOptions().check());
  AutoAugmentOptions negative_n;
  negative_n.num_ops = -1;
  EXPECT_THROW(negative_n.check(), std::invalid_argument);
  EXPECT_EQ(error_message([&] { negative_n.check(); }),
            "auto_augment.num_ops: expected an integer >= 0, got -1");
  AutoAugmentOptions large_m;
  large_m.magnitude = 31;
  EXPECT_EQ(error_message([&] { large_m.check(); }),
            "auto_augment.magnitude: expected an integer in [0, 30], got 31");
  AutoAugmentOptions negative_m;
  negative_m.magnitude = -1;
  EXPECT_THROW(negative_m.check(), std::invalid_argument);
  // auto_augment refuses them too, before drawing anything.
  std::mt19937 generator(0);
  large_m.kind = AutoAugmentKind::kRandAugment;
  EXPECT_THROW(auto_augment(cv::Mat(2, 2, CV_8UC1), large_m, generator), std::invalid_argument);
}

TEST(AutoAugment, OpsHaveTorchvisionNamesAndRefuseOtherImages) {
  std::set<std::string> names;
  for (int index = 0; index < kNumAugmentOps; ++index) names.insert(augment_op_name(op_at(index)));
  EXPECT_EQ(names.size(), static_cast<size_t>(kNumAugmentOps));
  EXPECT_STREQ(augment_op_name(AugmentOp::kIdentity), "Identity");
  EXPECT_STREQ(augment_op_name(AugmentOp::kAutoContrast), "AutoContrast");
  EXPECT_STREQ(augment_op_name(AugmentOp::kEqualize), "Equalize");
  EXPECT_STREQ(augment_op_name(op_at(kNumAugmentOps)), "unknown");
  EXPECT_THROW(augment_ops::rotate(cv::Mat(), 10.0), std::invalid_argument);
  EXPECT_THROW(augment_ops::equalize(cv::Mat(4, 4, CV_8UC4)), std::invalid_argument);
  EXPECT_THROW(augment_ops::solarize(cv::Mat(4, 4, CV_32FC3), 128), std::invalid_argument);
}

}  // namespace
}  // namespace moevit
