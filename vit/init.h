#pragma once

#include <torch/types.h>

namespace moevit {

class VisionTransformerImpl;

// Truncated normal N(0, std²) restricted to [−2·std, 2·std] (the JAX/TF truncated_normal
// convention; PyTorch's trunc_normal_ cuts at ±2 absolute, which at std 0.02 cuts nothing), in
// place.
void trunc_normal_(torch::Tensor& tensor, double std);

// The one init policy of the model: Linear and expert weights Xavier-uniform (big_vision's ViT),
// biases zero, position embeddings and router trunc-normal(0.02), class token N(0, 1e-6);
// LayerNorm, the patch convolution, the head and the soft router's φ/scale keep their
// constructors' init. The head keeps LibTorch's U(±1/sqrt(fan_in)) rather than timm's 0.02 or
// big_vision's zeros: on Fashion-MNIST (dim 128, 150 steps) the small heads learned ~9 points
// slower (docs/results.md, "Recipe").
void init_vit_weights(VisionTransformerImpl& model);

}  // namespace moevit
