#include "vit/parameter_count.h"

#include "vit/vision_transformer.h"

namespace moevit {

ParameterCount count_parameters(const VisionTransformerImpl& model) {
  ParameterCount count;
  for (const auto& parameter : model.parameters()) count.total += parameter.numel();
  double active_expert = 0;
  for (const MoeLayer& layer : model.moe_layers()) {
    const int64_t per_expert = layer->experts->parameters_per_expert();
    const MoeOptions& options = layer->options();
    count.expert += per_expert * options.num_experts;
    const double experts_per_token =
        options.router == RouterKind::kSoft
            ? static_cast<double>(options.num_experts * layer->slots_per_expert()) /
                  model.config().num_tokens()
            : static_cast<double>(options.experts_per_token);
    active_expert += experts_per_token * per_expert;
  }
  count.active_per_token = static_cast<double>(count.total - count.expert) + active_expert;
  return count;
}

}  // namespace moevit
