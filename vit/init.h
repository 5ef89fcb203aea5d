#pragma once

#include <torch/types.h>

namespace moevit {

class VisionTransformerImpl;

// Truncated normal in [mean − 2·std, mean + 2·std] by inverse-CDF sampling (as PyTorch's
// nn.init.trunc_normal_), in place.
void trunc_normal_(torch::Tensor& tensor, double std);

// The one init policy of the model (timm `init_weights_vit_timm`): Linear and expert weights
// and position embeddings trunc-normal(0.02), biases zero, class token N(0, 1e-6); LayerNorm,
// the patch convolution and the soft router's φ/scale keep their constructors' init.
void init_vit_weights(VisionTransformerImpl& model);

}  // namespace moevit
