#pragma once

#include "app/run/config.h"
#include "datasets/loader.h"
#include "datasets/transforms.h"

namespace moevit {

// The model's input transform from the config (image size and channels from model.*).
TransformOptions transform_options(const Config& config);

// Loader options for training (shuffled, augmented) or evaluation (in order, center crop).
// Data parallel training: optim.batch_size is the global batch; each of `num_shards` ranks
// loads its 1/num_shards share of every step (the batch must divide evenly).
LoaderOptions loader_options(const Config& config, TransformMode mode, int64_t shard = 0,
                             int64_t num_shards = 1);

// Evaluation over a data set (eval, each epoch's validation, heatmap --dataset): eval-mode
// transforms in a fixed seeded order (start_epoch(0) every time). In folder order a batch holds
// images of one class, and with routing groups of several images their tokens crowd onto the
// same experts, so drops (and Expert Choice's picks) would depend on how the folders sort.
// classify keeps the order it was given.
LoaderOptions evaluation_loader_options(const Config& config);

}  // namespace moevit
