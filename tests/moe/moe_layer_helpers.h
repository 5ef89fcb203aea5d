// Helpers shared by the MoE layer tests (moe_layer_test.cpp, moe_layer_bias_test.cpp).
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "moe/moe_layer.h"

namespace moevit::testing {

inline MoeOptions options_for(RouterKind router, int64_t experts, int64_t k = 1) {
  MoeOptions options;
  options.router = router;
  options.num_experts = experts;
  options.experts_per_token = k;
  return options;
}

// One expert's MLP by hand: gelu(x·W1 + b1)·W2 + b2. x [R,D].
inline torch::Tensor expert_by_hand(const ExpertsImpl& experts, int64_t e, const torch::Tensor& x) {
  return torch::gelu(x.matmul(experts.fc1_weight[e]) + experts.fc1_bias[e])
             .matmul(experts.fc2_weight[e]) +
         experts.fc2_bias[e];
}

}  // namespace moevit::testing
