// E two-layer GELU MLPs stored as batched weights, run over the buffers that `dispatch` fills:
// padded [E, rows, D] with batched matrix products, or packed [P, D] (each expert's rows one
// after the other) with one product per expert over its rows only.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

namespace moevit {

class ExpertsImpl : public torch::nn::Module {
 public:
  ExpertsImpl(int64_t num_experts, int64_t dim, int64_t hidden_dim);

  // inputs [E, R, D] → [E, R, D]: fc2(gelu(fc1(x))) for each expert's rows. With
  // rows_per_expert (a packed plan's), inputs are [P, D] with P = Σ rows_per_expert, expert e
  // taking the rows after those of experts 0 … e-1.
  torch::Tensor forward(const torch::Tensor& inputs,
                        const std::vector<int64_t>& rows_per_expert = {});

  int64_t num_experts() const { return fc1_weight.size(0); }
  int64_t parameters_per_expert() const;

  torch::Tensor fc1_weight;  // [E, D, H]
  torch::Tensor fc1_bias;    // [E, 1, H]
  torch::Tensor fc2_weight;  // [E, H, D]
  torch::Tensor fc2_bias;    // [E, 1, D]
};
TORCH_MODULE(Experts);

}  // namespace moevit
