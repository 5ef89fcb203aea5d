#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace moevit {

// The dense FFN: fc1 → GELU → fc2 → dropout (timm Mlp).
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t dim, int64_t hidden_dim, double dropout = 0.0);

  // tokens [B,N,D] → [B,N,D]
  torch::Tensor forward(const torch::Tensor& tokens);

  torch::nn::Linear fc1{nullptr};
  torch::nn::Linear fc2{nullptr};
  torch::nn::Dropout dropout{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace moevit
