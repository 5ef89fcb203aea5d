#include "app/run/data_setup.h"

#include <stdexcept>
#include <string>

namespace moevit {

TransformOptions transform_options(const Config& config) {
  const DataConfig& data = config.data;
  TransformOptions transform;
  transform.image_size = config.model.image_size;
  transform.channels = config.model.channels;
  // One value stands for every channel.
  transform.mean =
      data.mean.size() == 1 ? std::vector<double>(config.model.channels, data.mean[0]) : data.mean;
  transform.std =
      data.std.size() == 1 ? std::vector<double>(config.model.channels, data.std[0]) : data.std;
  transform.random_resized_crop = data.random_resized_crop;
  transform.scale_min = data.scale_min;
  transform.scale_max = data.scale_max;
  transform.ratio_min = data.ratio_min;
  transform.ratio_max = data.ratio_max;
  transform.pad = data.crop_padding;
  transform.hflip_probability = data.hflip;
  transform.erase_probability = data.random_erasing;
  transform.auto_augment = {data.auto_augment, static_cast<int>(data.randaugment_n),
                            static_cast<int>(data.randaugment_m)};
  transform.color_jitter = data.color_jitter;
  transform.crop_fraction = data.crop_fraction;
  return transform;
}

LoaderOptions loader_options(const Config& config, TransformMode mode, int64_t shard,
                             int64_t num_shards) {
  // Training splits the global batch over ranks and accumulation micro-batches; evaluation
  // loads whole batches.
  const int64_t parts = mode == TransformMode::kTrain ? num_shards * config.optim.accum_steps : 1;
  if (config.optim.batch_size % parts != 0)
    throw std::invalid_argument(
        "optim.batch_size: expected a multiple of " + std::to_string(num_shards) +
        " processes x optim.accum_steps " + std::to_string(config.optim.accum_steps) + " = " +
        std::to_string(parts) + " (the global batch is split evenly), got " +
        std::to_string(config.optim.batch_size));
  LoaderOptions options;
  options.batch_size = config.optim.batch_size / parts;
  options.shard = shard;
  options.num_shards = num_shards;
  options.num_workers = config.data.workers;
  options.shuffle = mode == TransformMode::kTrain;
  options.drop_last = mode == TransformMode::kTrain && config.data.drop_last;
  options.mode = mode;
  options.seed = static_cast<uint64_t>(config.run.seed);
  options.max_image_pixels = config.data.max_pixels;
  return options;
}

LoaderOptions evaluation_loader_options(const Config& config) {
  LoaderOptions options = loader_options(config, TransformMode::kEval);
  options.shuffle = true;
  return options;
}

}  // namespace moevit
