// Image transforms, from decoded 8-bit pixels to the normalised float tensor the model reads.
// Axis letters: C channels, H height, W width, S = TransformOptions::image_size.
//   train: random-resized-crop to S×S (or resize to S×S, pad, random S×S crop) → random
//          horizontal flip → RandAugment or TrivialAugment → colour jitter → normalise →
//          random erasing (the last three off by default), timm's order
//   eval:  resize the shorter side to floor(S / crop_fraction) → centre S×S crop → normalise
// Random choices come from the generator the caller passes (see datasets/seeded_generator.h).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <random>
#include <vector>

#include "datasets/auto_augment.h"

namespace cv {
class Mat;
}

namespace moevit {

struct TransformOptions {
  int64_t image_size = 224;  // S: the output is [C,S,S], e.g. 28 or 224
  int64_t channels = 3;      // C: 1 (grayscale) or 3 (RGB)
  // Per channel, of pixel / 255: out = (pixel / 255 - mean) / std. ImageNet values, as timm.
  std::vector<double> mean = {0.485, 0.456, 0.406};
  std::vector<double> std = {0.229, 0.224, 0.225};

  // Training. true: random-resized-crop (torchvision RandomResizedCrop, the Inception recipe);
  // false: resize to S×S, pad by `pad` zero pixels per side, crop S×S at random (CIFAR recipe).
  bool random_resized_crop = true;
  double scale_min = 0.08;  // crop area as a fraction of the image area, torchvision defaults
  double scale_max = 1.0;
  double ratio_min = 3.0 / 4.0;  // crop width / height
  double ratio_max = 4.0 / 3.0;
  int64_t pad = 4;                 // e.g. 4 for 32×32 inputs
  double hflip_probability = 0.5;  // 0 turns flipping off
  // Random erasing (Zhong et al. 2017, "Random Erasing Data Augmentation"; timm's
  // RandomErasing in its per-pixel mode): with this probability one rectangle of the
  // normalised image, of area fraction in [erase_area_min, erase_area_max] and log-uniform
  // aspect ratio in [erase_ratio_min, 1 / erase_ratio_min], is filled with N(0, 1) noise.
  double erase_probability = 0.0;  // 0 turns it off (and draws nothing)
  double erase_area_min = 0.02;    // timm's defaults
  double erase_area_max = 1.0 / 3;
  double erase_ratio_min = 0.3;
  // After crop and flip, on the 8-bit S×S image (timm's order): an automatic augmentation
  // policy (off by default), then colour jitter of this strength (0 = off). Each draws nothing
  // when off, so runs without them keep the random stream they always had.
  AutoAugmentOptions auto_augment;
  double color_jitter = 0.0;

  // Evaluation: timm's crop_pct. 0.875 resizes the shorter side of a 224 crop to 256;
  // 1.0 resizes it to exactly S.
  double crop_fraction = 0.875;

  // Throws std::invalid_argument naming the field, e.g. "transform.std: expected 3 values > 0
  // (one per channel), got 1".
  void check() const;
};

enum class TransformMode { kTrain, kEval };

struct CropBox {
  int64_t top;
  int64_t left;
  int64_t height;
  int64_t width;
};

// The crop of RandomResizedCrop.get_params (torchvision): up to 10 draws of an area fraction in
// [scale_min, scale_max] and a log-uniform ratio in [ratio_min, ratio_max], the first that fits
// wins; else the centred crop of the clamped ratio.
CropBox random_resized_crop_box(int64_t height, int64_t width, const TransformOptions& options,
                                std::mt19937& generator);

// The rectangle random erasing fills in an S×S image: up to 10 draws of an area fraction and
// a log-uniform ratio (as timm), the first that fits wins; height 0 when none fits.
CropBox random_erasing_box(int64_t size, const TransformOptions& options, std::mt19937& generator);

// image: continuous 8-bit [H,W,C] with C = options.channels, as decode_image returns it.
// out: room for C·S·S floats, written as [C,S,S]. `generator` is used in kTrain mode only.
void transform_image_into(const cv::Mat& image, const TransformOptions& options, TransformMode mode,
                          std::mt19937& generator, float* out);

// The same, returning a new float tensor [C,S,S].
at::Tensor transform_image(const cv::Mat& image, const TransformOptions& options,
                           TransformMode mode, std::mt19937& generator);

}  // namespace moevit
