// `moevit bench --loader DIR`: whether the loader keeps the model fed. The config's training
// transforms on DIR's training images with data.workers threads, timed alone and feeding
// training steps, beside the steps on synthetic inputs (app/perf/benchmark.h).
#pragma once

#include <string>

#include "app/perf/benchmark.h"
#include "app/run/config.h"
#include "datasets/image_folder.h"

namespace moevit {

struct LoaderThroughput {
  double loader_images_per_second = 0;             // batches taken as fast as they come
  double train_with_loader_images_per_second = 0;  // each batch then one training step
  int64_t workers = 0;                             // loader threads used
};

// Over options.warmup_steps untimed and options.steps timed batches of options.batch_size
// images of `train_folder` (resolve_train_val(...).train of the data root).
LoaderThroughput measure_loader_throughput(const Config& config, const Runtime& runtime,
                                           const BenchOptions& options,
                                           const ImageFolder& train_folder);

}  // namespace moevit
