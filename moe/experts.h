// E two-layer GELU MLPs stored as batched weights, run with batched matrix products over the
// [E, rows, D] buffers that `dispatch` fills.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace moevit {

class ExpertsImpl : public torch::nn::Module {
 public:
  ExpertsImpl(int64_t num_experts, int64_t dim, int64_t hidden_dim);

  // inputs [E, R, D] → [E, R, D]: fc2(gelu(fc1(x))) for each expert's rows.
  torch::Tensor forward(const torch::Tensor& inputs);

  int64_t num_experts() const { return fc1_weight.size(0); }
  int64_t parameters_per_expert() const;

  torch::Tensor fc1_weight;  // [E, D, H]
  torch::Tensor fc1_bias;    // [E, 1, H]
  torch::Tensor fc2_weight;  // [E, H, D]
  torch::Tensor fc2_bias;    // [E, 1, D]
};
TORCH_MODULE(Experts);

}  // namespace moevit
