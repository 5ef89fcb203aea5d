#pragma once

#include <string>
#include <vector>

#include "app/run/config.h"
#include "vit/vision_transformer.h"

namespace moevit {

// Which weights of a checkpoint inference uses (`--weights`): the moving average where the run
// kept one (optim.ema_decay > 0; its best.pt was chosen by the average's accuracy) else the
// trained weights; or either one explicitly.
enum class WeightSource { kAuto, kAverage, kTrained };

// "auto" | "average" | "trained"; anything else is refused with one line naming --weights.
WeightSource parse_weight_source(const std::string& value);

struct LoadedModel {
  Config config;  // the checkpoint's resolved config with the command's overrides
  std::vector<std::string> class_names;
  VisionTransformer model{nullptr};
  bool averaged_weights = false;  // the run's moving average of the weights (optim.ema_decay)
};

// Rebuilds the model a checkpoint describes (its own config, then `overrides`, e.g.
// moe.eval_capacity_factor=2) and loads its weights, in eval mode: the moving average of the
// weights where the run kept one, else the trained weights (or as `source` says; kAverage on a
// checkpoint without an average is an error naming the file).
LoadedModel load_model(const std::string& checkpoint_path,
                       const std::vector<std::string>& overrides,
                       WeightSource source = WeightSource::kAuto);

}  // namespace moevit
