#pragma once

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

namespace moevit {

// A Linear layer applied through ATen's at::linear. torch::nn::Linear::forward (LibTorch 1.13)
// goes through the C++ functional `linear`, which fuses the bias into the product (addmm) for
// 2-D inputs only: [B,N,D] tokens got a matmul plus a separate bias add, forward and backward.
// at::linear also fuses contiguous 3-D inputs.
inline at::Tensor apply_linear(const torch::nn::Linear& layer, const at::Tensor& input) {
  return at::linear(input, layer->weight, layer->bias);
}

}  // namespace moevit
