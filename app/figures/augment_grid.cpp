#include "app/figures/augment_grid.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "app/figures/canvas.h"
#include "datasets/decode.h"
#include "datasets/seeded_generator.h"

namespace moevit {

namespace {

constexpr int kGap = 4;
constexpr int kTitleHeight = 24;

// One view of `pixels`: the transform in `mode` with the loader's generator for (epoch,
// sample), drawn as the model's input and enlarged to whole multiples of its size.
cv::Mat view(const cv::Mat& pixels, const TransformOptions& transform, TransformMode mode,
             const AugmentGridOptions& options, uint64_t epoch, uint64_t sample_index) {
  std::mt19937 generator =
      seeded_generator(options.seed, RandomPurpose::kAugment, epoch, sample_index);
  const cv::Mat picture =
      model_input_picture(transform_image(pixels, transform, mode, generator), transform);
  const int factor =
      std::max<int>(1, static_cast<int>((options.tile_pixels + picture.cols - 1) / picture.cols));
  cv::Mat enlarged;
  cv::resize(picture, enlarged, {}, factor, factor, cv::INTER_NEAREST);
  return enlarged;
}

}  // namespace

std::vector<int64_t> preview_sample_indices(const ImageFolder& folder,
                                            const AugmentGridOptions& options) {
  std::vector<int64_t> order(folder.samples.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 generator = seeded_generator(options.seed, RandomPurpose::kShuffle, 0);
  std::shuffle(order.begin(), order.end(), generator);
  order.resize(std::min<size_t>(order.size(), static_cast<size_t>(options.images)));
  return order;
}

cv::Mat augment_grid(const ImageFolder& folder, const std::vector<int64_t>& sample_indices,
                     const TransformOptions& transform, const AugmentGridOptions& options,
                     const std::string& title) {
  std::vector<cv::Mat> tiles;
  for (const int64_t index : sample_indices) {
    const cv::Mat pixels =
        decode_image(folder.samples.at(index).path, transform.channels, options.max_pixels);
    const auto sample = static_cast<uint64_t>(index);
    tiles.push_back(view(pixels, transform, TransformMode::kEval, options, 0, sample));
    for (int64_t epoch = 0; epoch < options.draws; ++epoch)
      tiles.push_back(view(pixels, transform, TransformMode::kTrain, options,
                           static_cast<uint64_t>(epoch), sample));
  }
  const cv::Mat grid = arrange_tiles(tiles, static_cast<int>(options.draws + 1), kGap);
  const int width = std::max(grid.cols, text_width(title, kLabelScale) + 2 * kGap);
  cv::Mat canvas(grid.rows + kTitleHeight, width, CV_8UC3, kCanvasWhite);
  grid.copyTo(canvas(cv::Rect(0, kTitleHeight, grid.cols, grid.rows)));
  draw_text(canvas, title, {kGap, kTitleHeight / 2 + 2}, TextAlign::kLeft, kLabelScale, kCanvasInk);
  return canvas;
}

}  // namespace moevit
