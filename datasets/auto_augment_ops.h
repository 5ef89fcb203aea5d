// The image operations of RandAugment (Cubuk et al. 2019, arXiv 1909.13719) and TrivialAugment
// (Müller & Hutter 2021, arXiv 2103.10158), as torchvision's RandAugment and TrivialAugmentWide
// apply them. Each takes an 8-bit image [H,W,C] with C = 1 (grayscale) or 3 (RGB order) and
// returns a new image of the same size and type; parameters are the op's own (degrees, pixels,
// a blend factor, bits), not magnitude bins: datasets/auto_augment.h maps bins to parameters.
// Formulas follow PIL's ImageOps / ImageEnhance, which torchvision's functional ops reproduce.
// Each throws std::invalid_argument for an empty image, a depth other than 8 bits or a channel
// count other than 1 or 3.
#pragma once

#include <cstdint>

namespace cv {
class Mat;
}

namespace moevit {

// The op set both policies draw from, uniformly, in torchvision's order.
enum class AugmentOp {
  kIdentity,
  kShearX,
  kShearY,
  kTranslateX,
  kTranslateY,
  kRotate,
  kBrightness,
  kColor,
  kContrast,
  kSharpness,
  kPosterize,
  kSolarize,
  kAutoContrast,
  kEqualize,
};
inline constexpr int kNumAugmentOps = 14;

// torchvision's name of the op, e.g. "ShearX", "AutoContrast"; "unknown" past the last op.
const char* augment_op_name(AugmentOp op);

namespace augment_ops {

// A copy of the image.
cv::Mat identity(const cv::Mat& image);

// Geometry: nearest-neighbour, pixels from outside the image take `fill` in every channel
// (torchvision's default fill is 0). Coordinates are PIL's: pixel (x, y) covers [x, x+1) ×
// [y, y+1), so (0, 0) is the top-left corner of the image.
//
// Shear about the top-left corner (torchvision passes center=[0, 0], as PIL's original
// AutoAugment did): the output at (x, y) is the input at (x + factor·y, y) for shear_x and at
// (x, y + factor·x) for shear_y.
cv::Mat shear_x(const cv::Mat& image, double factor, uint8_t fill = 0);
cv::Mat shear_y(const cv::Mat& image, double factor, uint8_t fill = 0);
// The content moves `pixels` to the right (translate_x) or down (translate_y); negative
// moves it left or up.
cv::Mat translate_x(const cv::Mat& image, int pixels, uint8_t fill = 0);
cv::Mat translate_y(const cv::Mat& image, int pixels, uint8_t fill = 0);
// Counter-clockwise by `degrees` about the centre of the image (W/2, H/2), size kept.
cv::Mat rotate(const cv::Mat& image, double degrees, uint8_t fill = 0);

// Enhancements, PIL's ImageEnhance: blend the image with a degenerate version of it,
// out = degenerate + factor · (image - degenerate), clipped to [0, 255] and truncated.
// Factor 1 is the identity, 0 the degenerate image, > 1 extrapolates away from it.
//   brightness: degenerate black; color (saturation): degenerate the grayscale image
//   (identity on 1-channel images); contrast: degenerate the mean of the grayscale image;
//   sharpness: degenerate smoothed by [[1,1,1],[1,5,1],[1,1,1]] / 13, its border rows and
//   columns kept from the image.
cv::Mat brightness(const cv::Mat& image, double factor);
cv::Mat color(const cv::Mat& image, double factor);
cv::Mat contrast(const cv::Mat& image, double factor);
cv::Mat sharpness(const cv::Mat& image, double factor);

// Keeps the top `bits` bits of every value, bits in [0, 8]; 8 is the identity.
cv::Mat posterize(const cv::Mat& image, int bits);
// Inverts (255 - value) every value >= threshold, threshold in [0, 256]; 256 is the identity.
cv::Mat solarize(const cv::Mat& image, int threshold);
// Per channel, stretches [min, max] linearly onto [0, 255] (truncated, as PIL); a constant
// channel is kept.
cv::Mat auto_contrast(const cv::Mat& image);
// Per channel histogram equalisation (cv::equalizeHist); a constant channel is kept.
cv::Mat equalize(const cv::Mat& image);

}  // namespace augment_ops
}  // namespace moevit
