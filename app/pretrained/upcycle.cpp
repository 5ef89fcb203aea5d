#include "app/pretrained/upcycle.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace moevit {

ExpertWeights experts_from_dense(const DenseFfnWeights& dense, int64_t num_experts, int64_t width,
                                 const char* key) {
  const int64_t hidden = dense.fc1_weight.size(0), dim = dense.fc1_weight.size(1);
  if (width < 1 || width > hidden || hidden % width != 0)
    throw std::invalid_argument(
        std::string(key) + ": expected a divisor of the dense FFN's width " +
        std::to_string(hidden) + " to upcycle it, got " + std::to_string(width));
  const int64_t slices = hidden / width;
  std::vector<torch::Tensor> fc1_weight, fc1_bias, fc2_weight, fc2_bias;
  for (int64_t expert = 0; expert < num_experts; ++expert) {
    const int64_t first = (expert % slices) * width;
    fc1_weight.push_back(dense.fc1_weight.narrow(0, first, width).t());  // [D,W]
    fc1_bias.push_back(dense.fc1_bias.narrow(0, first, width).reshape({1, width}));
    fc2_weight.push_back(dense.fc2_weight.narrow(1, first, width).t());  // [W,D]
    fc2_bias.push_back(dense.fc2_bias.reshape({1, dim}));
  }
  return {torch::stack(fc1_weight), torch::stack(fc1_bias), torch::stack(fc2_weight),
          torch::stack(fc2_bias)};
}

ExpertWeights shared_experts_from_dense(const DenseFfnWeights& dense, int64_t count,
                                        int64_t width) {
  const ExpertWeights each = experts_from_dense(dense, count, width, "moe.shared_expert_mlp_dim");
  const int64_t dim = dense.fc1_weight.size(1);
  // [count,D,W] → [1,D,count·W]: the slices side by side, as one wide expert computes them.
  return {each.fc1_weight.permute({1, 0, 2}).reshape({1, dim, count * width}),
          each.fc1_bias.reshape({1, 1, count * width}),
          each.fc2_weight.reshape({1, count * width, dim}), dense.fc2_bias.reshape({1, 1, dim})};
}

}  // namespace moevit
