// Loader throughput (images/s, counter "images_per_second") by worker count, on
//   FashionMnist: the PNGs of `moevit prepare fashion-mnist` (28×28 gray), from the folder in
//                 MOEVIT_BENCH_FMNIST (e.g. data/fmnist/train); skipped when it is not set;
//   Cifar10:      the JPEGs of ../shared/data/cifar10-jpg.tar.gz (32×32 colour), from the folder
//                 in MOEVIT_BENCH_CIFAR10 (e.g. build/data/cifar10/train); skipped when not set;
//   Jpeg224:      kNumJpegs generated 224×224 colour JPEGs in a temporary folder.
// The Cifar10 and Jpeg224 loaders take a second argument, the augmentation set: 0 crop and flip,
// 1 + RandAugment (n2 m9), 2 + RandAugment, colour jitter 0.4 and random erasing 0.25.
// One iteration is one epoch, after one untimed warm-up epoch. Training transforms throughout,
// the costlier path.
// DecodeTransformJpeg224 is one image on the calling thread: the cost without the loader.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <stdexcept>
#include <string>

#include "datasets/decode.h"
#include "datasets/loader.h"

namespace {
namespace fs = std::filesystem;
using moevit::ImageFolder;
using moevit::ImageLoader;
using moevit::LoaderOptions;
using moevit::TransformOptions;

constexpr int kNumJpegs = 384;
constexpr int64_t kFashionMnistImages = 20000;  // per epoch: a few seconds with one worker
constexpr int64_t kBatchSize = 128;

// Smooth colour gradients with shapes and mild noise: JPEG sizes near those of photos, unlike
// pure noise (too big) or flat colour (too small).
cv::Mat synthetic_photo(int index) {
  cv::Mat image(224, 224, CV_8UC3);
  for (int y = 0; y < image.rows; ++y)
    for (int x = 0; x < image.cols; ++x)
      image.at<cv::Vec3b>(y, x) =
          cv::Vec3b((x + index * 7) % 256, (y * 2 + index) % 256, (x + y + index * 13) % 256);
  cv::RNG rng(index);
  for (int shape = 0; shape < 6; ++shape)
    cv::circle(image, {rng.uniform(0, 224), rng.uniform(0, 224)}, rng.uniform(8, 60),
               cv::Scalar(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256)),
               cv::FILLED);
  cv::Mat noise(image.size(), CV_8UC3);
  rng.fill(noise, cv::RNG::NORMAL, 0, 8);
  image += noise;
  return image;
}

// The generated JPEG folder, written on first use and removed when the program ends.
class JpegFolder {
 public:
  JpegFolder() {
    std::string pattern = (fs::temp_directory_path() / "moevit_loader_bench_XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
    root_ = pattern;
    for (int i = 0; i < kNumJpegs; ++i) {
      const fs::path path =
          root_ / ("class" + std::to_string(i % 4)) / (std::to_string(i) + ".jpg");
      fs::create_directories(path.parent_path());
      if (!cv::imwrite(path.string(), synthetic_photo(i), {cv::IMWRITE_JPEG_QUALITY, 90}))
        throw std::runtime_error("cannot write " + path.string());
    }
    folder_ = moevit::scan_image_folder(root_.string());
  }
  ~JpegFolder() {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }
  const ImageFolder& folder() const { return folder_; }

  static const JpegFolder& instance() {
    static const JpegFolder folder;
    return folder;
  }

 private:
  fs::path root_;
  ImageFolder folder_;
};

TransformOptions imagenet_transform() {
  return TransformOptions();
}  // 224, RGB, RRC + flip

TransformOptions cifar10_transform() {
  TransformOptions transform;
  transform.image_size = 32;
  transform.mean = {0.4914, 0.4822, 0.4465};  // CIFAR-10 training set statistics
  transform.std = {0.2470, 0.2435, 0.2616};
  transform.random_resized_crop = false;
  transform.pad = 4;
  return transform;
}

// `transform` with the augmentation set `level` (see the top of the file) added.
TransformOptions with_augmentations(TransformOptions transform, int64_t level) {
  if (level >= 1) transform.auto_augment = {moevit::AutoAugmentKind::kRandAugment, 2, 9};
  if (level >= 2) {
    transform.color_jitter = 0.4;
    transform.erase_probability = 0.25;
  }
  return transform;
}

// The folder named by the environment variable `variable`, or nothing (the benchmark is then
// skipped with `hint`).
std::optional<ImageFolder> folder_from_environment(benchmark::State& state, const char* variable,
                                                   const char* hint) {
  const char* root = std::getenv(variable);
  if (root && fs::is_directory(root)) return moevit::scan_image_folder(root);
  state.SkipWithError(hint);
  for (auto _ : state) {
  }
  return std::nullopt;
}

TransformOptions fashion_mnist_transform() {
  TransformOptions transform;
  transform.image_size = 28;
  transform.channels = 1;
  transform.mean = {0.2860};  // Fashion-MNIST training set statistics
  transform.std = {0.3530};
  transform.random_resized_crop = false;
  transform.pad = 2;
  return transform;
}

void run_epochs(benchmark::State& state, const ImageFolder& folder,
                const TransformOptions& transform) {
  LoaderOptions options;
  options.batch_size = kBatchSize;
  options.num_workers = state.range(0);
  options.seed = 1;
  ImageLoader loader(folder, transform, options);
  const auto run_epoch = [&](int64_t epoch) {
    int64_t images = 0;
    loader.start_epoch(epoch);
    while (std::optional<moevit::Batch> batch = loader.next_batch()) {
      benchmark::DoNotOptimize(batch->images.data_ptr<float>());
      images += batch->labels.numel();
    }
    return images;
  };
  run_epoch(/*epoch=*/0);  // untimed: warms the page cache and the loader's batch buffers
  int64_t epoch = 1, images = 0;
  for (auto _ : state) images += run_epoch(epoch++);
  if (!loader.summary().skipped.empty()) state.SkipWithError("some images were skipped");
  state.counters["images_per_second"] = benchmark::Counter(images, benchmark::Counter::kIsRate);
}

void BM_LoaderFashionMnist(benchmark::State& state) {
  std::optional<ImageFolder> found = folder_from_environment(
      state, "MOEVIT_BENCH_FMNIST",
      "set MOEVIT_BENCH_FMNIST to a Fashion-MNIST folder, e.g. data/fmnist/train");
  if (!found) return;
  ImageFolder& folder = *found;
  // A fixed, class-balanced subset: every third image up to kFashionMnistImages.
  std::vector<moevit::ImageSample> subset;
  for (size_t i = 0; i < folder.samples.size() && subset.size() < kFashionMnistImages; i += 3)
    subset.push_back(folder.samples[i]);
  folder.samples = std::move(subset);
  run_epochs(state, folder, fashion_mnist_transform());
}

void BM_LoaderCifar10(benchmark::State& state) {
  std::optional<ImageFolder> found = folder_from_environment(
      state, "MOEVIT_BENCH_CIFAR10",
      "set MOEVIT_BENCH_CIFAR10 to CIFAR-10's train folder, e.g. build/data/cifar10/train");
  if (!found) return;
  ImageFolder& folder = *found;
  // Every fifth image: 10,000 a epoch, class-balanced (the folders are sorted by class).
  std::vector<moevit::ImageSample> subset;
  for (size_t i = 0; i < folder.samples.size(); i += 5) subset.push_back(folder.samples[i]);
  folder.samples = std::move(subset);
  run_epochs(state, folder, with_augmentations(cifar10_transform(), state.range(1)));
}

void BM_LoaderJpeg224(benchmark::State& state) {
  run_epochs(state, JpegFolder::instance().folder(),
             with_augmentations(imagenet_transform(), state.range(1)));
}

void BM_DecodeTransformJpeg224(benchmark::State& state) {
  const ImageFolder& folder = JpegFolder::instance().folder();
  const TransformOptions transform = with_augmentations(imagenet_transform(), state.range(0));
  std::mt19937 generator(1);
  size_t next = 0;
  for (auto _ : state) {
    const cv::Mat pixels = moevit::decode_image(folder.samples[next].path, 3);
    benchmark::DoNotOptimize(
        moevit::transform_image(pixels, transform, moevit::TransformMode::kTrain, generator));
    next = (next + 1) % folder.samples.size();
  }
  state.counters["images_per_second"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

// Arg: worker threads.
BENCHMARK(BM_LoaderFashionMnist)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
// Args: worker threads, augmentation set.
BENCHMARK(BM_LoaderCifar10)
    ->ArgsProduct({{1, 2}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
BENCHMARK(BM_LoaderJpeg224)
    ->ArgsProduct({{1, 2}, {0, 1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MinTime(2.0);
// Arg: augmentation set.
BENCHMARK(BM_DecodeTransformJpeg224)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);
