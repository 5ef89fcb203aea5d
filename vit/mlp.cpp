#include "vit/mlp.h"

#include "vit/linear.h"

namespace moevit {

MlpImpl::MlpImpl(int64_t dim, int64_t hidden_dim, double dropout_probability) {
  fc1 = register_module("fc1", torch::nn::Linear(dim, hidden_dim));
  fc2 = register_module("fc2", torch::nn::Linear(hidden_dim, dim));
  dropout = register_module("dropout", torch::nn::Dropout(dropout_probability));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& tokens) {
  return dropout->forward(apply_linear(fc2, torch::gelu(apply_linear(fc1, tokens))));
}

}  // namespace moevit
