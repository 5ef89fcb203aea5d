#include "app/model_loading.h"

#include "app/checkpoint.h"

namespace moevit {

LoadedModel load_model(const std::string& checkpoint_path,
                       const std::vector<std::string>& overrides) {
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
  loaded.averaged_weights = checkpoint.load_inference_weights(*loaded.model);
  loaded.model->eval();
  return loaded;
}

}  // namespace moevit
