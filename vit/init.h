#pragma once

#include <torch/types.h>

namespace moevit {

class VisionTransformerImpl;

// Truncated normal N(0, std²) restricted to [−2·std, 2·std] (the JAX/TF truncated_normal
// convention; PyTorch's trunc_normal_ cuts at ±2 absolute, which at std 0.02 cuts nothing), in
// place.
void trunc_normal_(torch::Tensor& tensor, double std);

// The one init policy of the model (timm `init_weights_vit_timm`): Linear and expert weights
// and position embeddings trunc-normal(0.02), biases zero, class token N(0, 1e-6); LayerNorm,
// the patch convolution and the soft router's φ/scale keep their constructors' init.
void init_vit_weights(VisionTransformerImpl& model);

}  // namespace moevit
