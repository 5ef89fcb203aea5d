// Automatic augmentation of decoded 8-bit images [H,W,C] (C = 1 or 3, RGB order), applied by
// datasets/transforms.h to training images after the crop and flip, before normalisation (timm):
//   RandAugment (Cubuk et al. 2019, arXiv 1909.13719): num_ops ops drawn uniformly with
//     replacement, each at the one fixed magnitude bin;
//   TrivialAugment (Müller & Hutter 2021, arXiv 2103.10158), torchvision's TrivialAugmentWide:
//     one op drawn uniformly, at a magnitude bin drawn uniformly;
//   and timm's colour jitter (torchvision ColorJitter without hue).
// The ops are those of datasets/auto_augment_ops.h, drawn from all 14 (Identity included).
// A bin becomes the op's parameter as in torchvision's RandAugment / TrivialAugmentWide
// (torchvision.transforms docs, _augmentation_space): linspace(0, max, bins)[bin], then a random
// sign (50%) for the signed ops. With bins = 31 (bin 0..30), W × H the image size:
//
//   op              parameter (sign)         RandAugment max           TrivialAugmentWide max
//   Identity        -                        -                         -
//   ShearX, ShearY  shear factor (±)         0.3                       0.99
//   TranslateX, Y   whole pixels (±)         150/331 · W (X), H (Y)    32
//   Rotate          degrees (±)              30                        135
//   Brightness, Color, Contrast, Sharpness:
//                   v of the factor 1 ± v    0.9                       0.99
//   Posterize       bits kept                8 - round(bin·4/30):      8 - round(bin·6/30):
//                                            8 down to 4               8 down to 2
//   Solarize        threshold                255 down to 0             255 down to 0
//   AutoContrast, Equalize: no parameter
//
// Solarize at bin 0 has threshold 255, so it inverts pure white (255 → 0), as torchvision does;
// the "no change" threshold is 256. Random choices come from the generator the caller passes
// (see datasets/seeded_generator.h).
#pragma once

#include <cstdint>
#include <random>

#include "datasets/auto_augment_ops.h"

namespace cv {
class Mat;
}

namespace moevit {

enum class AutoAugmentKind { kNone, kRandAugment, kTrivialAugment };

struct AutoAugmentOptions {
  AutoAugmentKind kind = AutoAugmentKind::kNone;
  int num_ops = 2;    // RandAugment's N: ops applied one after another, e.g. 2
  int magnitude = 9;  // RandAugment's M: the bin of every op, in [0, num_magnitude_bins - 1]
  int num_magnitude_bins = 31;  // torchvision's default; TrivialAugment draws its bin from these

  // Throws std::invalid_argument naming the field, e.g. "auto_augment.magnitude: expected an
  // integer in [0, 30], got 31".
  void check() const;
};

// Whether the op takes a parameter from a magnitude bin (all but Identity, AutoContrast and
// Equalize), and whether that parameter gets a random sign.
bool augment_op_has_magnitude(AugmentOp op);
bool augment_op_is_signed(AugmentOp op);

// The op's parameter at `bin` for an image of height × width under `kind`'s ranges (table
// above), before the sign: e.g. degrees for kRotate, v of the factor 1 + v for kBrightness,
// bits for kPosterize. 0 for an op without a magnitude. Throws std::invalid_argument for kNone
// or a bin outside [0, num_magnitude_bins - 1].
double augment_op_magnitude(AugmentOp op, AutoAugmentKind kind, int bin, int num_magnitude_bins,
                            int height, int width);

// Applies `op` with its (signed) parameter as torchvision's _apply_op does: translations
// truncate to whole pixels, enhancements use the factor 1 + magnitude, posterize keeps
// int(magnitude) bits, solarize inverts the values >= magnitude.
cv::Mat apply_augment_op(const cv::Mat& image, AugmentOp op, double magnitude, uint8_t fill = 0);

// The policy of options.kind on `image`. kNone returns the image itself and draws nothing;
// RandAugment with num_ops 0 returns it too. Throws what options.check() throws.
cv::Mat auto_augment(const cv::Mat& image, const AutoAugmentOptions& options,
                     std::mt19937& generator);

// timm's --color-jitter S: torchvision ColorJitter(brightness=S, contrast=S, saturation=S), i.e.
// the three adjustments in a random order, each with a factor uniform in [max(0, 1 - S), 1 + S].
// Saturation does nothing to a 1-channel image. Strength 0 returns the image itself and draws
// nothing. (timm applies colour jitter only when no auto-augment policy is set.) Throws
// std::invalid_argument for a negative strength.
cv::Mat color_jitter(const cv::Mat& image, double strength, std::mt19937& generator);

}  // namespace moevit
