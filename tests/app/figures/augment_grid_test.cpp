#include "app/figures/augment_grid.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "app/figures/canvas.h"
#include "datasets/decode.h"
#include "datasets/loader.h"
#include "datasets/seeded_generator.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::TempDir;

const std::string kMoevit = MOEVIT_BINARY;

// 8×8 grayscale read back as pixel / 255, RandAugment and flips on.
TransformOptions preview_transform() {
  TransformOptions transform;
  transform.image_size = 8;
  transform.channels = 1;
  transform.mean = {0.0};
  transform.std = {1.0};
  transform.random_resized_crop = false;
  transform.pad = 1;
  transform.auto_augment = {AutoAugmentKind::kRandAugment, 2, 9};
  return transform;
}

// The view the grid should hold: `mode` with the loader's generator for (epoch, sample),
// enlarged twice.
cv::Mat expected_view(const ImageSample& sample, const TransformOptions& transform,
                      TransformMode mode, uint64_t seed, uint64_t epoch, uint64_t index) {
  std::mt19937 generator = seeded_generator(seed, RandomPurpose::kAugment, epoch, index);
  const cv::Mat picture = model_input_picture(
      transform_image(decode_image(sample.path, 1), transform, mode, generator), transform);
  cv::Mat enlarged;
  cv::resize(picture, enlarged, {}, 2, 2, cv::INTER_NEAREST);
  return enlarged;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

TEST(AugmentGrid, RowsAreTheFirstTrainingBatchAndTilesTheLoadersDraws) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 4, 1);
  const ImageFolder folder = scan_image_folder(dir / "data/train");
  AugmentGridOptions options;
  options.images = 3;
  options.draws = 2;
  options.tile_pixels = 16;  // 8×8 views enlarged twice
  options.seed = 11;

  // The rows are the first images of training epoch 0, in the loader's order.
  const std::vector<int64_t> indices = preview_sample_indices(folder, options);
  LoaderOptions loader_options;
  loader_options.batch_size = 3;
  loader_options.num_workers = 1;
  loader_options.seed = 11;
  ImageLoader loader(folder, preview_transform(), loader_options);
  loader.start_epoch(0);
  EXPECT_EQ(loader.next_batch()->sample_indices, indices);

  const TransformOptions transform = preview_transform();
  const cv::Mat grid = augment_grid(folder, indices, transform, options, "t");
  // A 24-pixel title, then rows of 16-pixel tiles 4 pixels apart and around.
  ASSERT_EQ(grid.rows, 24 + 4 + 3 * (16 + 4));
  ASSERT_EQ(grid.cols, 4 + 3 * (16 + 4));
  for (size_t row = 0; row < indices.size(); ++row) {
    const ImageSample& sample = folder.samples[indices[row]];
    const auto tile = [&](int column) {
      return grid(cv::Rect(4 + column * 20, 28 + static_cast<int>(row) * 20, 16, 16));
    };
    const auto index = static_cast<uint64_t>(indices[row]);
    EXPECT_TRUE(
        same_pixels(tile(0), expected_view(sample, transform, TransformMode::kEval, 11, 0, index)));
    for (int epoch = 0; epoch < 2; ++epoch)
      EXPECT_TRUE(
          same_pixels(tile(1 + epoch),
                      expected_view(sample, transform, TransformMode::kTrain, 11, epoch, index)))
          << "row " << row << " epoch " << epoch;
  }
}

TEST(AugmentGrid, CommandWritesTheGridAndRefusesWithoutAConfig) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 2, 1);
  testing::write_text(dir / "tiny.yaml", testing::tiny_config_yaml(dir / "data", dir / "run"));
  const auto drawn =
      testing::run_command(kMoevit + " augment-preview --config " + (dir / "tiny.yaml") +
                           " --set data.auto_augment=trivialaugment --set data.color_jitter=0.4" +
                           " --images 2 --draws 3 --out " + (dir / "grid.png"));
  ASSERT_EQ(drawn.exit_code, 0) << drawn.output;
  EXPECT_NE(drawn.output.find("wrote " + (dir / "grid.png") + " (2 images x 3 training views)"),
            std::string::npos)
      << drawn.output;
  const cv::Mat grid = cv::imread(dir / "grid.png");
  ASSERT_FALSE(grid.empty());
  // 8×8 images enlarged 12 times to reach 96 pixels: a title and two rows.
  EXPECT_EQ(grid.rows, 24 + 4 + 2 * (96 + 4));
  EXPECT_GE(grid.cols, 4 + 4 * (96 + 4));

  const auto refused = testing::run_command(kMoevit + " augment-preview --out x.png");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.output.find("augment-preview: --config FILE is required"), std::string::npos)
      << refused.output;
}

}  // namespace
}  // namespace moevit
