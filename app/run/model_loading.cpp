#include "app/run/model_loading.h"

#include <stdexcept>

#include "app/run/checkpoint.h"

namespace moevit {

WeightSource parse_weight_source(const std::string& value) {
  if (value == "auto") return WeightSource::kAuto;
  if (value == "average") return WeightSource::kAverage;
  if (value == "trained") return WeightSource::kTrained;
  throw std::invalid_argument("--weights: expected auto, average or trained, got '" + value + "'");
}

LoadedModel load_model(const std::string& checkpoint_path,
                       const std::vector<std::string>& overrides, WeightSource source) {
  CheckpointReader checkpoint(checkpoint_path);
  const CheckpointState state = checkpoint.state();
  LoadedModel loaded;
  loaded.config = parse_config(state.config_yaml, checkpoint_path, overrides);
  loaded.class_names = state.class_names;
  if (static_cast<int64_t>(loaded.class_names.size()) != loaded.config.model.num_classes)
    throw std::runtime_error(checkpoint_path + ": holds " +
                             std::to_string(loaded.class_names.size()) + " class names for a " +
                             std::to_string(loaded.config.model.num_classes) + "-class model");
  loaded.model = VisionTransformer(loaded.config.model, WeightInit::kOverwrittenByCheckpoint);
  const bool has_average = checkpoint.has_averaged_weights();
  if (source == WeightSource::kAverage && !has_average)
    throw std::invalid_argument(checkpoint_path +
                                ": --weights average, but the run kept no moving average of "
                                "the weights (optim.ema_decay was 0)");
  loaded.averaged_weights = source != WeightSource::kTrained && has_average;
  if (loaded.averaged_weights)
    checkpoint.load_averaged_weights(*loaded.model);
  else
    checkpoint.load_weights(*loaded.model, nullptr);
  loaded.model->eval();
  return loaded;
}

}  // namespace moevit
