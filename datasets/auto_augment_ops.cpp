#include "datasets/auto_augment_ops.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace moevit {
namespace {

constexpr double kPi = 3.14159265358979323846;

void check_image(const cv::Mat& image, const char* op) {
  if (image.empty() || image.depth() != CV_8U || (image.channels() != 1 && image.channels() != 3))
    throw std::invalid_argument(std::string("augment_ops::") + op +
                                ": expected a non-empty 8-bit image with 1 or 3 channels, got " +
                                std::to_string(image.cols) + "x" + std::to_string(image.rows) +
                                " with " + std::to_string(image.channels()) +
                                " channels of depth " + std::to_string(image.depth()));
}

// Every value v of every channel becomes value_of(v), through a 256-entry table (cv::LUT).
cv::Mat map_values(const cv::Mat& image, const std::function<uint8_t(int)>& value_of) {
  cv::Mat table(1, 256, CV_8UC1);
  for (int value = 0; value < 256; ++value) table.at<uint8_t>(value) = value_of(value);
  cv::Mat mapped;
  cv::LUT(image, table, mapped);
  return mapped;
}

// `channel_op` on each channel on its own, as PIL's ImageOps does per band.
cv::Mat per_channel(const cv::Mat& image,
                    const std::function<cv::Mat(const cv::Mat&)>& channel_op) {
  std::vector<cv::Mat> channels;
  cv::split(image, channels);
  for (cv::Mat& channel : channels) channel = channel_op(channel);
  cv::Mat merged;
  cv::merge(channels, merged);
  return merged;
}

// cv::warpAffine given the map from output to input points in PIL's coordinates, where pixel
// (x, y) covers [x, x+1) × [y, y+1). OpenCV puts pixel centres on integers, so the map is moved
// half a pixel on both sides: input = A·(output + ½) + t - ½. OpenCV's nearest neighbour rounds
// the input point, which is PIL's floor of the same point in corner coordinates.
cv::Mat warp_from_output(const cv::Mat& image, const cv::Matx23d& output_to_input, uint8_t fill) {
  cv::Matx23d centred = output_to_input;
  for (int row = 0; row < 2; ++row)
    centred(row, 2) += 0.5 * (output_to_input(row, 0) + output_to_input(row, 1)) - 0.5;
  cv::Mat warped;
  cv::warpAffine(image, warped, centred, image.size(), cv::INTER_NEAREST | cv::WARP_INVERSE_MAP,
                 cv::BORDER_CONSTANT, cv::Scalar::all(fill));
  return warped;
}

// PIL's Image.blend(degenerate, image, factor), which ImageEnhance's enhance calls: computed in
// float, clipped to [0, 255], truncated toward zero. Factor 1 gives the image back exactly.
cv::Mat blend(const cv::Mat& degenerate, const cv::Mat& image, double factor) {
  const float alpha = static_cast<float>(factor);
  const int values_per_row = image.cols * image.channels();
  cv::Mat blended(image.size(), image.type());
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* from = degenerate.ptr<uint8_t>(y);
    const uint8_t* to = image.ptr<uint8_t>(y);
    uint8_t* out = blended.ptr<uint8_t>(y);
    for (int i = 0; i < values_per_row; ++i) {
      const float value = from[i] + alpha * static_cast<float>(to[i] - from[i]);
      out[i] = value <= 0.0f ? 0 : value >= 255.0f ? 255 : static_cast<uint8_t>(value);
    }
  }
  return blended;
}

// ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B, rounded), as PIL's convert("L").
cv::Mat grayscale(const cv::Mat& image) {
  if (image.channels() == 1) return image;
  cv::Mat gray;
  cv::cvtColor(image, gray, cv::COLOR_RGB2GRAY);
  return gray;
}

// PIL's ImageFilter.SMOOTH, [[1,1,1],[1,5,1],[1,1,1]] / 13 rounded to the nearest integer, on
// the interior only: PIL's 3×3 filter copies the border rows and columns unchanged, and
// torchvision's tensor sharpness keeps them too. (Sums / 13 are never exactly half-way.)
cv::Mat smoothed_interior(const cv::Mat& image) {
  cv::Mat degenerate = image.clone();
  if (image.rows < 3 || image.cols < 3) return degenerate;  // no interior
  const cv::Mat kernel = (cv::Mat_<float>(3, 3) << 1, 1, 1, 1, 5, 1, 1, 1, 1) / 13.0;
  cv::Mat smoothed;
  cv::filter2D(image, smoothed, CV_32F, kernel);  // the border mode only touches the border
  const cv::Rect interior(1, 1, image.cols - 2, image.rows - 2);
  cv::Mat degenerate_interior = degenerate(interior);
  smoothed(interior).convertTo(degenerate_interior, CV_8U);  // rounds to nearest
  return degenerate;
}

// PIL rounds cos and sin to 15 decimals in Image.rotate, so 90, 180 and 270 degrees map pixels
// exactly onto pixels.
double round_to_15_decimals(double value) {
  return std::round(value * 1e15) / 1e15;
}

}  // namespace

const char* augment_op_name(AugmentOp op) {
  static const char* const kNames[kNumAugmentOps] = {
      "Identity", "ShearX",   "ShearY",    "TranslateX", "TranslateY", "Rotate",       "Brightness",
      "Color",    "Contrast", "Sharpness", "Posterize",  "Solarize",   "AutoContrast", "Equalize"};
  const int index = static_cast<int>(op);
  return index >= 0 && index < kNumAugmentOps ? kNames[index] : "unknown";
}

namespace augment_ops {

cv::Mat identity(const cv::Mat& image) {
  check_image(image, "identity");
  return image.clone();
}

cv::Mat shear_x(const cv::Mat& image, double factor, uint8_t fill) {
  check_image(image, "shear_x");
  return warp_from_output(image, cv::Matx23d(1, factor, 0, 0, 1, 0), fill);
}

cv::Mat shear_y(const cv::Mat& image, double factor, uint8_t fill) {
  check_image(image, "shear_y");
  return warp_from_output(image, cv::Matx23d(1, 0, 0, factor, 1, 0), fill);
}

cv::Mat translate_x(const cv::Mat& image, int pixels, uint8_t fill) {
  check_image(image, "translate_x");
  return warp_from_output(image, cv::Matx23d(1, 0, -pixels, 0, 1, 0), fill);
}

cv::Mat translate_y(const cv::Mat& image, int pixels, uint8_t fill) {
  check_image(image, "translate_y");
  return warp_from_output(image, cv::Matx23d(1, 0, 0, 0, 1, -pixels), fill);
}

cv::Mat rotate(const cv::Mat& image, double degrees, uint8_t fill) {
  check_image(image, "rotate");
  // PIL's Image.rotate: input = R·(output - centre) + centre, R the rotation by -degrees in
  // image coordinates (y down), which turns the content counter-clockwise on screen.
  const double radians = -degrees * kPi / 180.0;
  const double cosine = round_to_15_decimals(std::cos(radians));
  const double sine = round_to_15_decimals(std::sin(radians));
  const double centre_x = image.cols / 2.0, centre_y = image.rows / 2.0;
  const cv::Matx23d output_to_input(cosine, sine, centre_x - cosine * centre_x - sine * centre_y,
                                    -sine, cosine, centre_y + sine * centre_x - cosine * centre_y);
  return warp_from_output(image, output_to_input, fill);
}

cv::Mat brightness(const cv::Mat& image, double factor) {
  check_image(image, "brightness");
  return blend(cv::Mat::zeros(image.size(), image.type()), image, factor);
}

cv::Mat color(const cv::Mat& image, double factor) {
  check_image(image, "color");
  if (image.channels() == 1) return image.clone();  // no saturation to change, as torchvision
  cv::Mat gray_rgb;
  cv::cvtColor(grayscale(image), gray_rgb, cv::COLOR_GRAY2RGB);
  return blend(gray_rgb, image, factor);
}

cv::Mat contrast(const cv::Mat& image, double factor) {
  check_image(image, "contrast");
  // PIL's ImageEnhance.Contrast: the mean of the grayscale image, rounded to an integer
  // (torchvision's tensor path keeps the fraction; the difference is below one step).
  const double mean = cv::mean(grayscale(image))[0];
  const double rounded_mean = std::floor(mean + 0.5);
  return blend(cv::Mat(image.size(), image.type(), cv::Scalar::all(rounded_mean)), image, factor);
}

cv::Mat sharpness(const cv::Mat& image, double factor) {
  check_image(image, "sharpness");
  return blend(smoothed_interior(image), image, factor);
}

cv::Mat posterize(const cv::Mat& image, int bits) {
  check_image(image, "posterize");
  if (bits < 0 || bits > 8)
    throw std::invalid_argument("augment_ops::posterize: expected bits in [0, 8], got " +
                                std::to_string(bits));
  // PIL's ImageOps.posterize: value & ~(2^(8 - bits) - 1).
  const int kept_mask = ~((1 << (8 - bits)) - 1);
  return map_values(image, [&](int value) { return static_cast<uint8_t>(value & kept_mask); });
}

cv::Mat solarize(const cv::Mat& image, int threshold) {
  check_image(image, "solarize");
  // PIL's ImageOps.solarize and torchvision's: values >= threshold are inverted.
  return map_values(image, [&](int value) {
    return static_cast<uint8_t>(value >= threshold ? 255 - value : value);
  });
}

cv::Mat auto_contrast(const cv::Mat& image) {
  check_image(image, "auto_contrast");
  // PIL's ImageOps.autocontrast without cutoff: (value - low) · 255 / (high - low), truncated;
  // computed in integers, so high maps to 255 exactly.
  return per_channel(image, [](const cv::Mat& channel) {
    double low = 0, high = 0;
    cv::minMaxLoc(channel, &low, &high);
    if (high <= low) return channel.clone();
    const int low_value = static_cast<int>(low), range = static_cast<int>(high) - low_value;
    return map_values(channel, [&](int value) {
      const int stretched = (std::max(value - low_value, 0) * 255) / range;
      return static_cast<uint8_t>(std::min(stretched, 255));
    });
  });
}

cv::Mat equalize(const cv::Mat& image) {
  check_image(image, "equalize");
  // OpenCV's table, lut[v] = round(255 · (cdf(v) - cdf(min)) / (count - cdf(min))), maps the
  // lowest value to 0 and the highest to 255; PIL's ImageOps.equalize builds a slightly
  // different table (steps of (count - count of the highest value) / 255).
  return per_channel(image, [](const cv::Mat& channel) {
    cv::Mat equalized;
    cv::equalizeHist(channel, equalized);
    return equalized;
  });
}

}  // namespace augment_ops
}  // namespace moevit
