#include "app/perf/loader_benchmark.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <thread>

#include "app/run/data_setup.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

// The loader's batches in order, starting a new epoch whenever one ends.
class EndlessBatches {
 public:
  EndlessBatches(const ImageFolder& folder, const Config& config, int64_t batch_size)
      : loader_(folder, transform_options(config), options(config, batch_size)) {
    loader_.start_epoch(epoch_);
  }
  Batch next() {
    std::optional<Batch> batch = loader_.next_batch();
    while (!batch) {
      loader_.start_epoch(++epoch_);
      batch = loader_.next_batch();
    }
    return std::move(*batch);
  }
  int64_t workers() const { return workers_; }

 private:
  LoaderOptions options(const Config& config, int64_t batch_size) {
    LoaderOptions loader = loader_options(config, TransformMode::kTrain);
    loader.batch_size = batch_size;
    loader.drop_last = true;  // every timed step sees a whole batch
    workers_ = loader.num_workers > 0
                   ? loader.num_workers
                   : static_cast<int64_t>(std::max(1u, std::thread::hardware_concurrency()));
    return loader;
  }
  int64_t workers_ = 0;
  ImageLoader loader_;
  int64_t epoch_ = 0;
};

}  // namespace

LoaderThroughput measure_loader_throughput(const Config& config, const Runtime& runtime,
                                           const BenchOptions& options,
                                           const ImageFolder& train_folder) {
  const auto images_per_second = [&](const std::function<void()>& call) {
    return static_cast<double>(options.batch_size) / seconds_per_call(call, runtime, options);
  };
  LoaderThroughput result;
  {
    EndlessBatches batches(train_folder, config, options.batch_size);
    result.workers = batches.workers();
    result.loader_images_per_second = images_per_second([&] { batches.next(); });
  }
  EndlessBatches batches(train_folder, config, options.batch_size);
  ModelConfig model = config.model;  // the folder's classes, as `train` sets them
  model.num_classes = static_cast<int64_t>(train_folder.class_names.size());
  BenchTrainer trainer(model, runtime);
  trainer.model().train();
  result.train_with_loader_images_per_second = images_per_second([&] {
    const Batch batch = batches.next();
    trainer.step(batch.images.to(runtime.device), batch.labels.to(runtime.device));
  });
  return result;
}

}  // namespace moevit
