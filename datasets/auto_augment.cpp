#include "datasets/auto_augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <opencv2/core.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace moevit {
namespace {

// The parameter each op reaches at the last bin (the table in the header); the bins in between
// are evenly spaced from 0, as torchvision's linspace(0, max, bins).
struct MagnitudeRanges {
  double shear;  // shear factor, tan of the shear angle
  // Translation in pixels: translate_of_size · W (or H) + translate_pixels; one of them is 0.
  double translate_of_size;
  double translate_pixels;
  double rotate_degrees;
  double enhance;                 // v of the enhance factor 1 ± v
  double posterize_bits_removed;  // bits kept go from 8 down to 8 - this
};

// torchvision RandAugment: translation relative to the image, 150/331 of the side, from
// AutoAugment's ImageNet range of 150 pixels on 331×331 images (Cubuk et al. 2018,
// arXiv 1805.09501).
constexpr MagnitudeRanges kRandAugmentRanges{/*shear=*/0.3,
                                             /*translate_of_size=*/150.0 / 331.0,
                                             /*translate_pixels=*/0.0,
                                             /*rotate_degrees=*/30.0,
                                             /*enhance=*/0.9,
                                             /*posterize_bits_removed=*/4.0};
// torchvision TrivialAugmentWide: the wide augmentation space of Müller & Hutter 2021.
constexpr MagnitudeRanges kTrivialAugmentRanges{/*shear=*/0.99,
                                                /*translate_of_size=*/0.0,
                                                /*translate_pixels=*/32.0,
                                                /*rotate_degrees=*/135.0,
                                                /*enhance=*/0.99,
                                                /*posterize_bits_removed=*/6.0};

const MagnitudeRanges& ranges_of(AutoAugmentKind kind) {
  switch (kind) {
    case AutoAugmentKind::kRandAugment:
      return kRandAugmentRanges;
    case AutoAugmentKind::kTrivialAugment:
      return kTrivialAugmentRanges;
    default:
      throw std::invalid_argument(
          "augment_op_magnitude: expected the kind RandAugment or TrivialAugment, got kind " +
          std::to_string(static_cast<int>(kind)));
  }
}

void require(bool condition, const char* key, const std::string& expected, double got) {
  if (condition) return;
  std::ostringstream got_text;
  got_text << got;
  throw std::invalid_argument(std::string(key) + ": expected " + expected + ", got " +
                              got_text.str());
}

AugmentOp random_op(std::mt19937& generator) {
  return static_cast<AugmentOp>(
      std::uniform_int_distribution<int>(0, kNumAugmentOps - 1)(generator));
}

// One op at one bin, as one step of torchvision's forward: the parameter at the bin, negated
// when a fair coin says so (drawn only for signed ops), then applied.
cv::Mat apply_op_at_bin(const cv::Mat& image, AugmentOp op, AutoAugmentKind kind, int bin,
                        int num_magnitude_bins, std::mt19937& generator) {
  double magnitude =
      augment_op_magnitude(op, kind, bin, num_magnitude_bins, image.rows, image.cols);
  if (augment_op_is_signed(op) && std::bernoulli_distribution(0.5)(generator))
    magnitude = -magnitude;
  return apply_augment_op(image, op, magnitude);
}

}  // namespace

void AutoAugmentOptions::check() const {
  require(num_ops >= 0, "auto_augment.num_ops", "an integer >= 0", num_ops);
  require(num_magnitude_bins >= 2, "auto_augment.num_magnitude_bins", "an integer >= 2",
          num_magnitude_bins);
  require(magnitude >= 0 && magnitude < num_magnitude_bins, "auto_augment.magnitude",
          "an integer in [0, " + std::to_string(num_magnitude_bins - 1) + "]", magnitude);
}

bool augment_op_has_magnitude(AugmentOp op) {
  return op != AugmentOp::kIdentity && op != AugmentOp::kAutoContrast && op != AugmentOp::kEqualize;
}

bool augment_op_is_signed(AugmentOp op) {
  return augment_op_has_magnitude(op) && op != AugmentOp::kPosterize && op != AugmentOp::kSolarize;
}

double augment_op_magnitude(AugmentOp op, AutoAugmentKind kind, int bin, int num_magnitude_bins,
                            int height, int width) {
  const MagnitudeRanges& ranges = ranges_of(kind);
  if (num_magnitude_bins < 2 || bin < 0 || bin >= num_magnitude_bins)
    throw std::invalid_argument("augment_op_magnitude: expected a bin in [0, " +
                                std::to_string(num_magnitude_bins - 1) +
                                "] of at least 2 bins, got " + std::to_string(bin));
  const double last_bin = num_magnitude_bins - 1;
  // linspace(0, max, bins)[bin], multiplied before dividing so that e.g. 30 degrees at bin 9 of
  // 31 is exactly 9 and a translation of 150 pixels at bin 9 is exactly 45, not 44.99….
  const auto at_bin = [&](double max) { return max * bin / last_bin; };
  switch (op) {
    case AugmentOp::kShearX:
    case AugmentOp::kShearY:
      return at_bin(ranges.shear);
    case AugmentOp::kTranslateX:
      return at_bin(ranges.translate_of_size * width + ranges.translate_pixels);
    case AugmentOp::kTranslateY:
      return at_bin(ranges.translate_of_size * height + ranges.translate_pixels);
    case AugmentOp::kRotate:
      return at_bin(ranges.rotate_degrees);
    case AugmentOp::kBrightness:
    case AugmentOp::kColor:
    case AugmentOp::kContrast:
    case AugmentOp::kSharpness:
      return at_bin(ranges.enhance);
    case AugmentOp::kPosterize:
      // torchvision: 8 - round(bin / ((bins - 1) / removed)), round half to even as torch.round
      // (std::nearbyint in the default rounding mode).
      return 8.0 - std::nearbyint(bin / (last_bin / ranges.posterize_bits_removed));
    case AugmentOp::kSolarize:
      return 255.0 * (last_bin - bin) / last_bin;  // linspace(255, 0, bins)[bin]
    default:
      return 0.0;  // Identity, AutoContrast, Equalize
  }
}

cv::Mat apply_augment_op(const cv::Mat& image, AugmentOp op, double magnitude, uint8_t fill) {
  switch (op) {
    case AugmentOp::kIdentity:
      return augment_ops::identity(image);
    case AugmentOp::kShearX:
      return augment_ops::shear_x(image, magnitude, fill);
    case AugmentOp::kShearY:
      return augment_ops::shear_y(image, magnitude, fill);
    case AugmentOp::kTranslateX:  // int(magnitude): truncated toward zero, as torchvision
      return augment_ops::translate_x(image, static_cast<int>(magnitude), fill);
    case AugmentOp::kTranslateY:
      return augment_ops::translate_y(image, static_cast<int>(magnitude), fill);
    case AugmentOp::kRotate:
      return augment_ops::rotate(image, magnitude, fill);
    case AugmentOp::kBrightness:
      return augment_ops::brightness(image, 1.0 + magnitude);
    case AugmentOp::kColor:
      return augment_ops::color(image, 1.0 + magnitude);
    case AugmentOp::kContrast:
      return augment_ops::contrast(image, 1.0 + magnitude);
    case AugmentOp::kSharpness:
      return augment_ops::sharpness(image, 1.0 + magnitude);
    case AugmentOp::kPosterize:
      return augment_ops::posterize(image, static_cast<int>(magnitude));
    case AugmentOp::kSolarize:
      // value >= magnitude for an integer value is value >= ceil(magnitude); e.g. bin 9 of 31
      // gives 178.5, so 179 and above are inverted.
      return augment_ops::solarize(image, static_cast<int>(std::ceil(magnitude)));
    case AugmentOp::kAutoContrast:
      return augment_ops::auto_contrast(image);
    case AugmentOp::kEqualize:
      return augment_ops::equalize(image);
  }
  throw std::invalid_argument("apply_augment_op: expected an op in [0, " +
                              std::to_string(kNumAugmentOps - 1) + "], got " +
                              std::to_string(static_cast<int>(op)));
}

cv::Mat auto_augment(const cv::Mat& image, const AutoAugmentOptions& options,
                     std::mt19937& generator) {
  options.check();
  const int bins = options.num_magnitude_bins;
  switch (options.kind) {
    case AutoAugmentKind::kNone:
      return image;
    case AutoAugmentKind::kRandAugment: {
      // torchvision RandAugment.forward: per op, the op, then its sign.
      cv::Mat augmented = image;
      for (int step = 0; step < options.num_ops; ++step)
        augmented = apply_op_at_bin(augmented, random_op(generator), options.kind,
                                    options.magnitude, bins, generator);
      return augmented;
    }
    case AutoAugmentKind::kTrivialAugment: {
      // torchvision TrivialAugmentWide.forward: the op, its bin (drawn only for ops with a
      // magnitude), then its sign.
      const AugmentOp op = random_op(generator);
      const int bin = augment_op_has_magnitude(op)
                          ? std::uniform_int_distribution<int>(0, bins - 1)(generator)
                          : 0;
      return apply_op_at_bin(image, op, options.kind, bin, bins, generator);
    }
  }
  throw std::invalid_argument("auto_augment: unknown kind " +
                              std::to_string(static_cast<int>(options.kind)));
}

cv::Mat color_jitter(const cv::Mat& image, double strength, std::mt19937& generator) {
  require(strength >= 0, "color_jitter.strength", "a number >= 0", strength);
  if (strength == 0) return image;
  // torchvision ColorJitter.get_params: first the order of the adjustments, then a factor for
  // each, in the order brightness, contrast, saturation.
  using Adjustment = cv::Mat (*)(const cv::Mat&, double);
  const std::array<Adjustment, 3> adjustments = {augment_ops::brightness, augment_ops::contrast,
                                                 augment_ops::color};
  std::array<int, 3> order = {0, 1, 2};
  std::shuffle(order.begin(), order.end(), generator);
  std::uniform_real_distribution<double> random_factor(std::max(0.0, 1.0 - strength),
                                                       1.0 + strength);
  std::array<double, 3> factors{};
  for (double& factor : factors) factor = random_factor(generator);
  cv::Mat jittered = image;
  for (int index : order) jittered = adjustments[index](jittered, factors[index]);
  return jittered;
}

}  // namespace moevit
