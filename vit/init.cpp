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
  // Uniform over the CDF range of [−2σ, 2σ], then the inverse normal CDF via erfinv.
  const double lower_cdf = 0.5 * (1.0 + std::erf(-2.0 / std::sqrt(2.0)));
  const double upper_cdf = 0.5 * (1.0 + std::erf(2.0 / std::sqrt(2.0)));
  tensor.uniform_(2 * lower_cdf - 1, 2 * upper_cdf - 1)
      .erfinv_()
      .mul_(std * std::sqrt(2.0))
      .clamp_(-2 * std, 2 * std);
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
