#pragma once

#include "app/config.h"
#include "datasets/loader.h"
#include "datasets/transforms.h"

namespace moevit {

// The model's input transform from the config (image size and channels from model.*).
TransformOptions transform_options(const Config& config);

// Loader options for training (shuffled, augmented) or evaluation (in order, center crop).
LoaderOptions loader_options(const Config& config, TransformMode mode);

}  // namespace moevit
