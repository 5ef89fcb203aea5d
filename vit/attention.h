#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace moevit {

// Multi-head self-attention with one qkv projection (timm Attention), scale head_dim^-0.5.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads, double dropout = 0.0);

  // tokens [B,N,D] → [B,N,D]
  torch::Tensor forward(const torch::Tensor& tokens);

  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear projection{nullptr};
  torch::nn::Dropout projection_dropout{nullptr};

 private:
  int64_t heads_;
};
TORCH_MODULE(Attention);

}  // namespace moevit
