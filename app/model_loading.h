#pragma once

#include <string>
#include <vector>

#include "app/config.h"
#include "vit/vision_transformer.h"

namespace moevit {

struct LoadedModel {
  Config config;  // the checkpoint's resolved config with the command's overrides
  std::vector<std::string> class_names;
  VisionTransformer model{nullptr};
  bool averaged_weights = false;  // the run's moving average of the weights (optim.ema_decay)
};

// Rebuilds the model a checkpoint describes (its own config, then `overrides`, e.g.
// moe.eval_capacity_factor=2) and loads its weights, in eval mode: the moving average of the
// weights where the run kept one, else the trained weights.
LoadedModel load_model(const std::string& checkpoint_path,
                       const std::vector<std::string>& overrides);

}  // namespace moevit
