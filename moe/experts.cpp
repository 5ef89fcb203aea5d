#include "moe/experts.h"

#include <torch/nn/functional/activation.h>

#include <cmath>

namespace moevit {

ExpertsImpl::ExpertsImpl(int64_t num_experts, int64_t dim, int64_t hidden_dim) {
  // Uniform(±1/√fan_in), as torch::nn::Linear initialises; vit/init.h re-initialises the model.
  const double fc1_bound = 1.0 / std::sqrt(static_cast<double>(dim));
  const double fc2_bound = 1.0 / std::sqrt(static_cast<double>(hidden_dim));
  fc1_weight = register_parameter(
      "fc1_weight", torch::empty({num_experts, dim, hidden_dim}).uniform_(-fc1_bound, fc1_bound));
  fc1_bias = register_parameter("fc1_bias", torch::zeros({num_experts, 1, hidden_dim}));
  fc2_weight = register_parameter(
      "fc2_weight", torch::empty({num_experts, hidden_dim, dim}).uniform_(-fc2_bound, fc2_bound));
  fc2_bias = register_parameter("fc2_bias", torch::zeros({num_experts, 1, dim}));
}

torch::Tensor ExpertsImpl::forward(const torch::Tensor& inputs,
                                   const std::vector<int64_t>& rows_per_expert) {
  if (rows_per_expert.empty()) {
    const torch::Tensor hidden = torch::gelu(torch::baddbmm(fc1_bias, inputs, fc1_weight));
    return torch::baddbmm(fc2_bias, hidden, fc2_weight);
  }
  TORCH_CHECK(inputs.dim() == 2 && static_cast<int64_t>(rows_per_expert.size()) == num_experts(),
              "Experts: expected packed inputs [P, D] and one row count per expert (",
              num_experts(), "), got ", inputs.sizes(), " and ", rows_per_expert.size(), " counts");
  // split/unbind/cat: each backward is one concatenation or split, not a zero-filled
  // full-size gradient per expert as slicing would give.
  const std::vector<torch::Tensor> rows = inputs.split_with_sizes(rows_per_expert);
  const std::vector<torch::Tensor> w1 = fc1_weight.unbind(0), b1 = fc1_bias.unbind(0),
                                   w2 = fc2_weight.unbind(0), b2 = fc2_bias.unbind(0);
  std::vector<torch::Tensor> outputs;
  outputs.reserve(rows.size());
  for (size_t e = 0; e < rows.size(); ++e)
    outputs.push_back(torch::addmm(b2[e], torch::gelu(torch::addmm(b1[e], rows[e], w1[e])), w2[e]));
  return torch::cat(outputs);
}

int64_t ExpertsImpl::parameters_per_expert() const {
  return (fc1_weight.numel() + fc1_bias.numel() + fc2_weight.numel() + fc2_bias.numel()) /
         num_experts();
}

}  // namespace moevit
