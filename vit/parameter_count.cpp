#include "vit/parameter_count.h"

#include "moe/capacity.h"
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
    // Shared experts see every token: they count in total and in active, not in "expert".
    double experts_per_token = static_cast<double>(options.experts_per_token);
    if (options.router == RouterKind::kSoft)
      experts_per_token = static_cast<double>(options.num_experts * layer->slots_per_expert()) /
                          model.config().num_tokens();
    if (options.router == RouterKind::kExpertChoice) {  // E·C picks over S tokens per group
      const int64_t group_tokens = options.group_size * model.config().num_tokens();
      const int64_t capacity =
          compute_capacity(group_tokens, /*experts_per_token=*/1, options.capacity_factor,
                           options.num_experts, options.capacity_multiple);
      experts_per_token = static_cast<double>(options.num_experts * capacity) / group_tokens;
    }
    active_expert += experts_per_token * per_expert;
  }
  count.active_per_token = static_cast<double>(count.total - count.expert) + active_expert;
  return count;
}

}  // namespace moevit
