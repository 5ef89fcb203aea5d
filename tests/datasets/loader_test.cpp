#include "datasets/loader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>
#include <opencv2/core.hpp>
#include <set>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using namespace testing;  // moevit::testing, tests/support/test_files.h

constexpr int kImageSide = 8;

// 8×8 gray, mean 0 and std 1, eval crop of the whole image: a batch image is pixel / 255 of
// its file, so a test can check that each image came with its own path and label.
TransformOptions readable_transform() {
  TransformOptions options;
  options.image_size = kImageSide;
  options.channels = 1;
  options.mean = {0.0};
  options.std = {1.0};
  options.crop_fraction = 1.0;
  return options;
}

LoaderOptions loader_options(int64_t batch_size, int64_t num_workers) {
  LoaderOptions options;
  options.batch_size = batch_size;
  options.num_workers = num_workers;
  options.mode = TransformMode::kEval;
  options.seed = 1234;
  return options;
}

cv::Mat noise_image(int seed) {
  cv::Mat image(kImageSide, kImageSide, CV_8UC1);
  cv::RNG(seed).fill(image, cv::RNG::UNIFORM, 0, 256);
  return image;
}

// 23 noise images in 3 classes of 8, 8 and 7.
ImageFolder write_folder(const TempDir& root) {
  for (int i = 0; i < 23; ++i)
    write_image(root / ("c" + std::to_string(i / 8) + "/" + std::to_string(i) + ".png"),
                noise_image(i));
  return scan_image_folder(root.path());
}

std::vector<Batch> run_epoch(ImageLoader& loader, int64_t epoch) {
  loader.start_epoch(epoch);
  std::vector<Batch> batches;
  while (std::optional<Batch> batch = loader.next_batch()) batches.push_back(std::move(*batch));
  return batches;
}

std::vector<int64_t> sample_order(const std::vector<Batch>& batches) {
  std::vector<int64_t> order;
  for (const Batch& batch : batches)
    order.insert(order.end(), batch.sample_indices.begin(), batch.sample_indices.end());
  return order;
}

std::vector<int64_t> batch_sizes(const std::vector<Batch>& batches) {
  std::vector<int64_t> sizes;
  for (const Batch& batch : batches) sizes.push_back(batch.images.size(0));
  return sizes;
}

void expect_batch_matches_files(const Batch& batch, const ImageFolder& folder) {
  ASSERT_EQ(batch.images.dim(), 4);
  ASSERT_EQ(batch.labels.dtype(), at::kLong);
  ASSERT_EQ(batch.labels.size(0), batch.images.size(0));
  ASSERT_EQ(batch.sample_indices.size(), static_cast<size_t>(batch.images.size(0)));
  for (size_t k = 0; k < batch.sample_indices.size(); ++k) {
    const ImageSample& sample = folder.samples[batch.sample_indices[k]];
    EXPECT_EQ(batch.paths[k], sample.path);
    EXPECT_EQ(batch.labels[k].item<int64_t>(), sample.label);
    const cv::Mat pixels = decode_image(sample.path, 1);
    const at::Tensor expected =
        at::from_blob(pixels.data, {1, kImageSide, kImageSide}, at::kByte).to(at::kFloat) / 255;
    EXPECT_TRUE(at::allclose(batch.images[k], expected)) << sample.path;
  }
}

TEST(ImageLoader, EveryImageExactlyOncePerEpochWithAnyWorkerCount) {
  TempDir root;
  const ImageFolder folder = write_folder(root);
  for (int64_t workers : {1, 3}) {
    ImageLoader loader(folder, readable_transform(), loader_options(5, workers));
    EXPECT_EQ(loader.batches_per_epoch(), 5);
    for (int64_t epoch : {0, 1}) {
      const std::vector<Batch> batches = run_epoch(loader, epoch);
      EXPECT_EQ(batch_sizes(batches), (std::vector<int64_t>{5, 5, 5, 5, 3}));  // last kept
      std::vector<int64_t> order = sample_order(batches);
      std::sort(order.begin(), order.end());
      std::vector<int64_t> all(23);
      std::iota(all.begin(), all.end(), 0);
      EXPECT_EQ(order, all) << workers << " workers, epoch " << epoch;
      for (const Batch& batch : batches) expect_batch_matches_files(batch, folder);
    }
    EXPECT_EQ(loader.summary().images_delivered, 46);
    EXPECT_TRUE(loader.summary().skipped.empty());
  }
}

TEST(ImageLoader, ShardsSplitTheEpochLikeOneLoaderWithTheUnionBatch) {
  // 23 images in batches of 2: 12 batches (the last of 1), dealt to 3 shards → 4 each.
  TempDir root;
  const ImageFolder folder = write_folder(root);
  ImageLoader whole(folder, readable_transform(), loader_options(2, 1));
  const std::vector<Batch> unsharded = run_epoch(whole, 3);
  std::vector<std::vector<Batch>> shards;
  for (int64_t shard = 0; shard < 3; ++shard) {
    LoaderOptions options = loader_options(2, 2);
    options.shard = shard;
    options.num_shards = 3;
    ImageLoader loader(folder, readable_transform(), options);
    EXPECT_EQ(loader.batches_per_epoch(), 4);
    shards.push_back(run_epoch(loader, 3));
    ASSERT_EQ(shards.back().size(), 4u);
  }
  std::multiset<int64_t> seen;
  for (int64_t step = 0; step < 4; ++step)
    for (int64_t shard = 0; shard < 3; ++shard) {
      // Step t of shard s is batch 3t + s of the unsharded epoch.
      const Batch& batch = shards[shard][step];
      EXPECT_EQ(batch.sample_indices, unsharded[3 * step + shard].sample_indices)
          << "step " << step << ", shard " << shard;
      seen.insert(batch.sample_indices.begin(), batch.sample_indices.end());
    }
  // 12 batches dealt as 4 × 3: no padding needed, every image exactly once.
  for (int64_t index = 0; index < 23; ++index) EXPECT_EQ(seen.count(index), 1u) << index;

  // 23 images, batches of 5 → 5 batches over 2 shards → 3 each: the deal wraps to batch 0.
  std::multiset<int64_t> wrapped;
  for (int64_t shard = 0; shard < 2; ++shard) {
    LoaderOptions options = loader_options(5, 1);
    options.shard = shard;
    options.num_shards = 2;
    ImageLoader loader(folder, readable_transform(), options);
    for (const Batch& batch : run_epoch(loader, 0))
      wrapped.insert(batch.sample_indices.begin(), batch.sample_indices.end());
  }
  EXPECT_EQ(wrapped.size(), 28u);  // 23 + the 5 of the repeated first batch
  EXPECT_EQ(std::set<int64_t>(wrapped.begin(), wrapped.end()).size(), 23u);
}

TEST(ImageLoader, DropLastDropsTheShortBatch) {
  TempDir root;
  LoaderOptions options = loader_options(5, 2);
  options.drop_last = true;
  ImageLoader loader(write_folder(root), readable_transform(), options);
  EXPECT_EQ(loader.batches_per_epoch(), 4);
  const std::vector<Batch> batches = run_epoch(loader, 0);
  EXPECT_EQ(batch_sizes(batches), (std::vector<int64_t>{5, 5, 5, 5}));
  const std::vector<int64_t> order = sample_order(batches);
  EXPECT_EQ(std::set<int64_t>(order.begin(), order.end()).size(), 20u);
}

TEST(ImageLoader, ShuffleIsSeededNewEachEpochAndIndependentOfWorkers) {
  TempDir root;
  const ImageFolder folder = write_folder(root);
  LoaderOptions options = loader_options(4, 1);
  options.mode = TransformMode::kTrain;  // augmentations too must not depend on the workers
  TransformOptions transform = readable_transform();
  transform.image_size = 6;
  ImageLoader one_worker(folder, transform, options);
  options.num_workers = 4;
  options.prefetch_batches = 2;
  ImageLoader four_workers(folder, transform, options);
  options.seed = 99;
  ImageLoader other_seed(folder, transform, options);

  const std::vector<Batch> epoch0 = run_epoch(one_worker, 0);
  const std::vector<Batch> epoch1 = run_epoch(one_worker, 1);
  EXPECT_NE(sample_order(epoch0), sample_order(epoch1));
  EXPECT_NE(sample_order(epoch0), sample_order(run_epoch(other_seed, 0)));
  EXPECT_EQ(sample_order(epoch0), sample_order(run_epoch(one_worker, 0)));  // replayed

  const std::vector<Batch> parallel = run_epoch(four_workers, 0);
  ASSERT_EQ(parallel.size(), epoch0.size());
  for (size_t b = 0; b < parallel.size(); ++b) {
    EXPECT_EQ(parallel[b].sample_indices, epoch0[b].sample_indices);
    EXPECT_TRUE(parallel[b].images.equal(epoch0[b].images)) << "batch " << b;
  }
}

TEST(ImageLoader, WithoutShuffleFolderOrder) {
  TempDir root;
  LoaderOptions options = loader_options(7, 2);
  options.shuffle = false;
  ImageLoader loader(write_folder(root), readable_transform(), options);
  std::vector<int64_t> all(23);
  std::iota(all.begin(), all.end(), 0);
  EXPECT_EQ(sample_order(run_epoch(loader, 0)), all);
  EXPECT_EQ(sample_order(run_epoch(loader, 1)), all);
}

TEST(ImageLoader, BadFilesAreSkippedReportedOnceAndNeverStopTheEpoch) {
  TempDir root;
  for (int i = 0; i < 6; ++i)
    write_image(root / ("good/" + std::to_string(i) + ".png"), noise_image(i));
  const std::vector<uint8_t> png = encode_image(".png", noise_image(9));
  std::vector<std::string> bad = {"bad/corrupt.png", "bad/empty.jpg", "bad/truncated.png",
                                  "bad/text.png", "bad/too_big.png"};
  write_bytes(root / "bad/corrupt.png", {0x89, 'P', 'N', 'G', 1, 2, 3, 4, 5, 6, 7, 8, 9});
  write_bytes(root / "bad/empty.jpg", {});
  write_bytes(root / "bad/truncated.png", std::vector<uint8_t>(png.begin(), png.begin() + 60));
  write_text(root / "bad/text.png", "this is a text file");
  write_image(root / "bad/too_big.png", cv::Mat(100, 100, CV_8UC1, cv::Scalar(3)));
  if (geteuid() != 0) {  // root reads files whatever their permissions: no test then
    write_image(root / "bad/unreadable.png", noise_image(10));
    chmod((root / "bad/unreadable.png").c_str(), 0);
    bad.push_back("bad/unreadable.png");
  }

  std::vector<std::string> warnings;
  LoaderOptions options = loader_options(4, 2);
  options.max_image_pixels = 5000;
  const ImageFolder folder = scan_image_folder(root.path());
  ImageLoader loader(folder, readable_transform(), options,
                     [&](const std::string& line) { warnings.push_back(line); });
  for (int64_t epoch : {0, 1}) {
    const std::vector<Batch> batches = run_epoch(loader, epoch);
    std::set<std::string> delivered;
    for (const Batch& batch : batches) {
      expect_batch_matches_files(batch, folder);
      delivered.insert(batch.paths.begin(), batch.paths.end());
    }
    EXPECT_EQ(delivered.size(), 6u) << "epoch " << epoch;
    for (const std::string& path : delivered) EXPECT_NE(path.find("/good/"), std::string::npos);
  }

  const LoaderSummary summary = loader.summary();
  EXPECT_EQ(summary.images_delivered, 12);
  ASSERT_EQ(summary.skipped.size(), bad.size());  // once each, though read in two epochs
  ASSERT_EQ(warnings.size(), bad.size());
  for (const std::string& name : bad) {
    const auto found = std::find_if(summary.skipped.begin(), summary.skipped.end(),
                                    [&](const SkippedImage& s) { return s.path == root / name; });
    ASSERT_NE(found, summary.skipped.end()) << name;
    EXPECT_FALSE(found->reason.empty());
    EXPECT_EQ(found->reason.find(root.path()), std::string::npos) << "path repeated in reason";
    EXPECT_EQ(std::count(warnings.begin(), warnings.end(),
                         "skipped " + found->path + ": " + found->reason),
              1)
        << name;
  }
}

TEST(ImageLoader, RestartsAndStopsInTheMiddleOfAnEpoch) {
  TempDir root;
  const ImageFolder folder = write_folder(root);
  LoaderOptions options = loader_options(2, 2);
  options.prefetch_batches = 1;
  {
    ImageLoader loader(folder, readable_transform(), options);
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next_batch().has_value());
    EXPECT_EQ(sample_order(run_epoch(loader, 1)).size(), 23u);  // restarted: a whole epoch
    loader.start_epoch(2);
    ASSERT_TRUE(loader.next_batch().has_value());
  }  // destroyed mid-epoch: joins without hanging
  ImageLoader never_started(folder, readable_transform(), options);
  EXPECT_THROW(never_started.next_batch(), std::logic_error);
}

TEST(LoaderOptions, CheckNamesTheField) {
  LoaderOptions options;
  options.batch_size = 0;
  EXPECT_EQ(error_message([&] { options.check(); }), "loader.batch_size: expected > 0, got 0");
  options = LoaderOptions();
  options.num_workers = -1;
  EXPECT_THROW(options.check(), std::invalid_argument);
  options = LoaderOptions();
  options.num_shards = 2;
  options.shard = 2;
  EXPECT_EQ(error_message([&] { options.check(); }),
            "loader.shard: expected 0 <= shard < num_shards, got 2");
  TempDir root;
  TransformOptions transform = readable_transform();
  transform.channels = 3;  // mean and std still have one value
  EXPECT_THROW(ImageLoader(write_folder(root), transform, LoaderOptions()), std::invalid_argument);
}

}  // namespace
}  // namespace moevit
