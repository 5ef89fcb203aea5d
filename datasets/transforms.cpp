#include "datasets/transforms.h"

#include <ATen/ATen.h>

#include <array>
#include <cmath>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <stdexcept>
#include <string>

namespace moevit {
namespace {

void require(bool condition, const char* field, const std::string& expected,
             const std::string& got) {
  if (!condition)
    throw std::invalid_argument(std::string("transform.") + field + ": expected " + expected +
                                ", got " + got);
}

std::string number(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

bool all_positive(const std::vector<double>& values) {
  for (double value : values)
    if (!(value > 0)) return false;
  return true;
}

// OpenCV's bilinear resize does not low-pass filter when shrinking (PIL and torchvision with
// antialias do), so shrinking uses INTER_AREA, OpenCV's box-filter equivalent.
cv::Mat resize_to(const cv::Mat& image, int64_t height, int64_t width) {
  if (image.rows == height && image.cols == width) return image;
  const bool shrinking = height <= image.rows && width <= image.cols;
  cv::Mat resized;
  cv::resize(image, resized, cv::Size(static_cast<int>(width), static_cast<int>(height)), 0, 0,
             shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
  return resized;
}

int64_t uniform_int(std::mt19937& generator, int64_t low, int64_t high) {  // [low, high]
  return std::uniform_int_distribution<int64_t>(low, high)(generator);
}

cv::Mat train_geometry(const cv::Mat& image, const TransformOptions& options,
                       std::mt19937& generator) {
  const int64_t size = options.image_size;
  cv::Mat cropped;
  if (options.random_resized_crop) {
    const CropBox box = random_resized_crop_box(image.rows, image.cols, options, generator);
    const cv::Rect rect(static_cast<int>(box.left), static_cast<int>(box.top),
                        static_cast<int>(box.width), static_cast<int>(box.height));
    cropped = resize_to(image(rect), size, size);
  } else {
    cv::Mat padded;
    const int pad = static_cast<int>(options.pad);
    cv::copyMakeBorder(resize_to(image, size, size), padded, pad, pad, pad, pad,
                       cv::BORDER_CONSTANT, cv::Scalar::all(0));
    const int64_t top = uniform_int(generator, 0, 2 * options.pad);
    const int64_t left = uniform_int(generator, 0, 2 * options.pad);
    cropped = padded(cv::Rect(static_cast<int>(left), static_cast<int>(top), static_cast<int>(size),
                              static_cast<int>(size)));
  }
  // Drawn even when the probability is 0, so the draws that follow do not depend on it.
  if (std::bernoulli_distribution(options.hflip_probability)(generator)) {
    cv::Mat flipped;
    cv::flip(cropped, flipped, /*flipCode=*/1);  // 1: around the vertical axis
    return flipped;
  }
  return cropped;
}

// torchvision Resize(int) then CenterCrop: the shorter side becomes floor(S / crop_fraction)
// (timm transforms_factory), the longer side int(target · long / short), and the crop starts
// at round((side - S) / 2) with Python's round-half-to-even (std::nearbyint's default mode).
cv::Mat eval_geometry(const cv::Mat& image, const TransformOptions& options) {
  const int64_t size = options.image_size;
  const int64_t target_short = static_cast<int64_t>(std::floor(size / options.crop_fraction));
  const bool portrait = image.rows >= image.cols;
  const int64_t short_side = portrait ? image.cols : image.rows;
  const int64_t long_side = portrait ? image.rows : image.cols;
  const int64_t target_long = target_short * long_side / short_side;
  const cv::Mat resized = portrait ? resize_to(image, target_long, target_short)
                                   : resize_to(image, target_short, target_long);
  const int64_t top = static_cast<int64_t>(std::nearbyint((resized.rows - size) / 2.0));
  const int64_t left = static_cast<int64_t>(std::nearbyint((resized.cols - size) / 2.0));
  return resized(cv::Rect(static_cast<int>(left), static_cast<int>(top), static_cast<int>(size),
                          static_cast<int>(size)));
}

// [S,S,C] 8-bit → [C,S,S] float through a per-channel table of the 256 possible values,
// computed in double so that e.g. 255 with mean 0.5, std 0.5 gives exactly 1.
void normalize_into(const cv::Mat& image, const TransformOptions& options, float* out) {
  const int64_t channels = options.channels;
  const int64_t plane = static_cast<int64_t>(image.rows) * image.cols;
  std::vector<std::array<float, 256>> table(channels);
  for (int64_t c = 0; c < channels; ++c)
    for (int value = 0; value < 256; ++value)
      table[c][value] = static_cast<float>((value / 255.0 - options.mean[c]) / options.std[c]);
  for (int y = 0; y < image.rows; ++y) {
    const uint8_t* row = image.ptr<uint8_t>(y);
    for (int x = 0; x < image.cols; ++x)
      for (int64_t c = 0; c < channels; ++c)
        out[c * plane + static_cast<int64_t>(y) * image.cols + x] = table[c][row[x * channels + c]];
  }
}

// Zhong et al.'s random erasing on the normalised [C,S,S] output: noise in every channel of
// one rectangle, so the model cannot rely on any one part of the object being visible.
void erase_random_box(const TransformOptions& options, std::mt19937& generator, float* out) {
  const int64_t size = options.image_size;
  const CropBox box = random_erasing_box(size, options, generator);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (int64_t c = 0; c < options.channels; ++c)
    for (int64_t y = box.top; y < box.top + box.height; ++y)
      for (int64_t x = box.left; x < box.left + box.width; ++x)
        out[(c * size + y) * size + x] = noise(generator);
}

}  // namespace

void TransformOptions::check() const {
  require(image_size > 0, "image_size", "a size > 0", std::to_string(image_size));
  require(channels == 1 || channels == 3, "channels", "1 or 3", std::to_string(channels));
  const std::string per_channel = std::to_string(channels) + " values (one per channel)";
  require(static_cast<int64_t>(mean.size()) == channels, "mean", per_channel,
          std::to_string(mean.size()) + " values");
  require(static_cast<int64_t>(std.size()) == channels && all_positive(std), "std",
          per_channel + " > 0", std::to_string(std.size()) + " values");
  require(scale_min > 0 && scale_min <= scale_max, "scale_min",
          "a number in (0, scale_max = " + number(scale_max) + "]", number(scale_min));
  require(scale_max <= 1, "scale_max", "a number <= 1", number(scale_max));
  require(ratio_min > 0 && ratio_min <= ratio_max, "ratio_min",
          "a number in (0, ratio_max = " + number(ratio_max) + "]", number(ratio_min));
  require(pad >= 0, "pad", "a number of pixels >= 0", std::to_string(pad));
  require(hflip_probability >= 0 && hflip_probability <= 1, "hflip_probability",
          "a probability in [0, 1]", number(hflip_probability));
  require(crop_fraction > 0 && crop_fraction <= 1, "crop_fraction", "a number in (0, 1]",
          number(crop_fraction));
  require(erase_probability >= 0 && erase_probability <= 1, "erase_probability",
          "a probability in [0, 1]", number(erase_probability));
  require(erase_area_min > 0 && erase_area_min <= erase_area_max, "erase_area_min",
          "a number in (0, erase_area_max = " + number(erase_area_max) + "]",
          number(erase_area_min));
  require(erase_area_max < 1, "erase_area_max", "a number < 1", number(erase_area_max));
  require(erase_ratio_min > 0 && erase_ratio_min <= 1, "erase_ratio_min", "a number in (0, 1]",
          number(erase_ratio_min));
  auto_augment.check();
  require(color_jitter >= 0, "color_jitter", "a number >= 0", number(color_jitter));
}

CropBox random_resized_crop_box(int64_t height, int64_t width, const TransformOptions& options,
                                std::mt19937& generator) {
  const double area = static_cast<double>(height) * width;
  std::uniform_real_distribution<double> scale(options.scale_min, options.scale_max);
  std::uniform_real_distribution<double> log_ratio(std::log(options.ratio_min),
                                                   std::log(options.ratio_max));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * scale(generator);
    const double ratio = std::exp(log_ratio(generator));
    const int64_t crop_width = std::llround(std::sqrt(target_area * ratio));
    const int64_t crop_height = std::llround(std::sqrt(target_area / ratio));
    if (crop_width > 0 && crop_width <= width && crop_height > 0 && crop_height <= height)
      return {uniform_int(generator, 0, height - crop_height),
              uniform_int(generator, 0, width - crop_width), crop_height, crop_width};
  }
  // Fallback: the whole image, cut to the nearest allowed ratio, centred.
  const double image_ratio = static_cast<double>(width) / height;
  int64_t crop_width = width, crop_height = height;
  if (image_ratio < options.ratio_min)
    crop_height = std::max<int64_t>(1, std::llround(width / options.ratio_min));
  else if (image_ratio > options.ratio_max)
    crop_width = std::max<int64_t>(1, std::llround(height * options.ratio_max));
  return {(height - crop_height) / 2, (width - crop_width) / 2, crop_height, crop_width};
}

CropBox random_erasing_box(int64_t size, const TransformOptions& options, std::mt19937& generator) {
  const double area = static_cast<double>(size) * size;
  std::uniform_real_distribution<double> area_fraction(options.erase_area_min,
                                                       options.erase_area_max);
  std::uniform_real_distribution<double> log_ratio(std::log(options.erase_ratio_min),
                                                   -std::log(options.erase_ratio_min));
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * area_fraction(generator);
    const double ratio = std::exp(log_ratio(generator));
    const int64_t height = std::llround(std::sqrt(target_area * ratio));
    const int64_t width = std::llround(std::sqrt(target_area / ratio));
    if (height > 0 && height < size && width > 0 && width < size)
      return {uniform_int(generator, 0, size - height), uniform_int(generator, 0, size - width),
              height, width};
  }
  return {0, 0, 0, 0};
}

void transform_image_into(const cv::Mat& image, const TransformOptions& options, TransformMode mode,
                          std::mt19937& generator, float* out) {
  if (image.empty() || image.depth() != CV_8U || image.channels() != options.channels)
    throw std::invalid_argument("transform_image: expected a non-empty 8-bit image with " +
                                std::to_string(options.channels) + " channels, got " +
                                std::to_string(image.cols) + "x" + std::to_string(image.rows) +
                                " with " + std::to_string(image.channels()) + " channels");
  if (mode == TransformMode::kEval) {
    normalize_into(eval_geometry(image, options), options, out);
    return;
  }
  cv::Mat augmented = train_geometry(image, options, generator);
  augmented = auto_augment(augmented, options.auto_augment, generator);
  augmented = color_jitter(augmented, options.color_jitter, generator);
  normalize_into(augmented, options, out);
  // Drawn only when on, so runs without erasing keep the random stream they always had.
  if (options.erase_probability > 0 &&
      std::bernoulli_distribution(options.erase_probability)(generator))
    erase_random_box(options, generator, out);
}

at::Tensor transform_image(const cv::Mat& image, const TransformOptions& options,
                           TransformMode mode, std::mt19937& generator) {
  at::Tensor out = at::empty({options.channels, options.image_size, options.image_size},
                             at::TensorOptions().dtype(at::kFloat));
  transform_image_into(image, options, mode, generator, out.data_ptr<float>());
  return out;
}

}  // namespace moevit
