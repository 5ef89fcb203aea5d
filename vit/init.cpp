#include "vit/init.h"

#include <torch/nn/modules/linear.h>

#include <cmath>

#include "vit/vision_transformer.h"

namespace moevit {

namespace {
constexpr double kEmbeddingStd = 0.02;  // position embeddings and router: timm / BERT init

// Glorot/Xavier uniform, U(±sqrt(6 / (fan_in + fan_out))): big_vision's ViT kernel init, here
// applied to each expert's [fan_in, fan_out] slice alike.
void xavier_uniform_(torch::Tensor& weight, int64_t fan_in, int64_t fan_out) {
  const double bound = std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  weight.uniform_(-bound, bound);
}
}  // namespace

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
    if (module.get() == model.head.ptr().get()) continue;
    if (auto* linear = module->as<torch::nn::Linear>()) {
      xavier_uniform_(linear->weight, linear->weight.size(1), linear->weight.size(0));
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* experts = module->as<ExpertsImpl>()) {
      const int64_t dim = experts->fc1_weight.size(1), hidden = experts->fc1_weight.size(2);
      xavier_uniform_(experts->fc1_weight, dim, hidden);
      xavier_uniform_(experts->fc2_weight, hidden, dim);
      experts->fc1_bias.zero_();
      experts->fc2_bias.zero_();
    } else if (auto* moe = module->as<MoeLayerImpl>()) {
      if (moe->router_weight.defined()) trunc_normal_(moe->router_weight, kEmbeddingStd);
    }
  }
  trunc_normal_(model.position_embedding, kEmbeddingStd);
  if (model.class_token.defined()) model.class_token.normal_(0.0, 1e-6);
}

}  // namespace moevit
