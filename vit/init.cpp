#include "vit/init.h"

#include <torch/nn/modules/linear.h>

#include <cmath>

#include "vit/vision_transformer.h"

namespace moevit {

namespace {
constexpr double kWeightStd = 0.02;  // timm / BERT init
}

void trunc_normal_(torch::Tensor& tensor, double std) {
  torch::NoGradGuard no_grad;
  // Draw normal values and redraw the ~4.6% outside ±2σ until none is left: exactly the
  // truncated normal, and far faster than the inverse-CDF method on large expert tensors.
  tensor.normal_(0.0, std);
  for (torch::Tensor outside = tensor.abs() > 2 * std; outside.any().item<bool>();
       outside = tensor.abs() > 2 * std)
    tensor.masked_scatter_(outside, torch::randn({outside.sum().item<int64_t>()}) * std);
}

void init_vit_weights(VisionTransformerImpl& model) {
  torch::NoGradGuard no_grad;
  for (auto& module : model.modules(/*include_self=*/false)) {
    if (auto* linear = module->as<torch::nn::Linear>()) {
      trunc_normal_(linear->weight, kWeightStd);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* experts = module->as<ExpertsImpl>()) {
      trunc_normal_(experts->fc1_weight, kWeightStd);
      trunc_normal_(experts->fc2_weight, kWeightStd);
      experts->fc1_bias.zero_();
      experts->fc2_bias.zero_();
    } else if (auto* moe = module->as<MoeLayerImpl>()) {
      if (moe->router_weight.defined()) trunc_normal_(moe->router_weight, kWeightStd);
    }
  }
  trunc_normal_(model.position_embedding, kWeightStd);
  if (model.class_token.defined()) model.class_token.normal_(0.0, 1e-6);
}

}  // namespace moevit
