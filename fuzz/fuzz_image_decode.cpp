// Fuzz target "image_decode": an image file as the loader reads it. decode_image (header, size
// guard, integrity check, OpenCV, channel conversion), then the training or evaluation
// transforms, under options drawn from the input's own hash. Invariants beyond "no crash":
// OpenCV never decodes more pixels than the header claimed (else the size guard could be
// bypassed by a file whose header lies), decode_image returns what decode.h promises, and the
// transforms give a finite [C,S,S] tensor.
#include <ATen/ATen.h>

#include <opencv2/core.hpp>
#include <random>
#include <string>
#include <vector>

#include "datasets/decode.h"
#include "datasets/image_header.h"
#include "datasets/transforms.h"
#include "fuzz/fuzz_targets.h"
#include "fuzz/harness.h"

namespace moevit {
namespace {

const char kTarget[] = "image_decode";

// The size guard (data.max_pixels) set low: a fuzz input of at most 64 KB may claim a large
// canvas, and decoding 512×512 pixels under the sanitizers already takes milliseconds.
constexpr int64_t kFuzzMaxPixels = 512 * 512;

struct DrawnOptions {
  TransformOptions transform;
  TransformMode mode = TransformMode::kEval;
};

// Options across the ranges the config allows, so the crops, augmentations and erasing all meet
// odd image sizes (1×N, N×1, larger or smaller than the output).
DrawnOptions draw_options(std::mt19937& draws) {
  const auto coin = [&] { return std::bernoulli_distribution(0.5)(draws); };
  const auto integer = [&](int low, int high) {
    return std::uniform_int_distribution<int>(low, high)(draws);
  };
  DrawnOptions drawn;
  TransformOptions& options = drawn.transform;
  drawn.mode = coin() ? TransformMode::kTrain : TransformMode::kEval;
  options.channels = coin() ? 3 : 1;
  options.mean.assign(options.channels, 0.5);
  options.std.assign(options.channels, 0.25);
  options.image_size = int64_t{8} << integer(0, 2);  // 8, 16 or 32
  options.random_resized_crop = coin();
  options.pad = integer(0, 4);
  options.crop_fraction = coin() ? 0.875 : 1.0;
  options.erase_probability = coin() ? 1.0 : 0.0;
  options.color_jitter = coin() ? 0.4 : 0.0;
  options.auto_augment.kind = static_cast<AutoAugmentKind>(integer(0, 2));
  options.auto_augment.num_ops = integer(0, 3);
  options.auto_augment.magnitude = integer(0, 30);
  return drawn;
}

void check_decoded(const cv::Mat& decoded, const ImageHeader& header, int64_t channels) {
  if (decoded.empty() || !decoded.isContinuous() || decoded.depth() != CV_8U ||
      decoded.channels() != channels)
    report_finding(kTarget, "decode_image returned an image that is not continuous 8-bit with " +
                                std::to_string(channels) + " channels");
  // Both products fit: decode_image refused any header whose claim exceeds kFuzzMaxPixels.
  if (static_cast<int64_t>(decoded.rows) * decoded.cols > header.width * header.height)
    report_finding(kTarget, "OpenCV decoded " + std::to_string(decoded.cols) + "x" +
                                std::to_string(decoded.rows) + " pixels from a " +
                                to_string(header.format) + " whose header claims " +
                                std::to_string(header.width) + "x" + std::to_string(header.height));
}

void check_transformed(const at::Tensor& image, const TransformOptions& options) {
  const std::vector<int64_t> expected = {options.channels, options.image_size, options.image_size};
  if (image.sizes().vec() != expected || image.scalar_type() != at::kFloat)
    report_finding(kTarget,
                   c10::str("transform_image returned ", image.scalar_type(), " of ", image.sizes(),
                            ", expected Float of ", c10::IntArrayRef(expected)));
  if (!at::isfinite(image).all().item<bool>())
    report_finding(kTarget, "transform_image returned a non-finite value");
}

}  // namespace

bool fuzz_image_decode(const uint8_t* data, size_t size) {
  static ScratchFile scratch(kTarget);
  const std::string& path = scratch.write(data, size);
  std::mt19937 draws(static_cast<uint32_t>(hash_bytes(data, size)));
  const DrawnOptions drawn = draw_options(draws);
  drawn.transform.check();  // outside run_input: options the harness draws must be valid
  const std::vector<uint8_t> bytes(data, data + size);
  return run_input(kTarget, [&] {
    const cv::Mat decoded = decode_image(path, drawn.transform.channels, kFuzzMaxPixels);
    check_decoded(decoded, read_image_header(bytes), drawn.transform.channels);
    check_transformed(transform_image(decoded, drawn.transform, drawn.mode, draws),
                      drawn.transform);
  });
}

}  // namespace moevit
