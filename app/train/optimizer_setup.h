#pragma once

#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <string>
#include <vector>

namespace moevit {

struct OptimConfig;

// Whether a parameter is exempt from weight decay: norms, biases, position embeddings, the
// class token and the soft router's scale (timm `param_groups_weight_decay`: ndim ≤ 1 or bias,
// plus the embeddings timm lists in `no_weight_decay`).
bool exempt_from_weight_decay(const std::string& name, const torch::Tensor& parameter);

// AdamW with decoupled weight decay over two groups: group 0 decays, group 1 does not. A
// FusedAdamW: one pass over each parameter per step on CPU, LibTorch's step elsewhere.
std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model,
                                                const OptimConfig& config);

// Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True), LibTorch 1.13's
// zero_grad only zeroes): saves a memset of all weights, and backward then writes the first
// gradient instead of adding to zeros. AdamW and clip_grad_norm_ skip undefined gradients.
void clear_gradients(torch::optim::Optimizer& optimizer);

// Sets the learning rate of every group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace moevit
