// Sparse upcycling (Komatsuzaki et al. 2022, arXiv 2212.05055; vmoe's initialize_from_vit, whose
// expand_tile copies a dense checkpoint's MLP into every expert): the experts of an MoE layer
// start as copies of the dense FFN their block had, so the upcycled model computes the dense one
// wherever each token's combine weights sum to 1 and no token is dropped.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace moevit {

// A dense FFN in torch::nn::Linear's layout (vit/mlp.h): fc1 [H,D] and [H], fc2 [D,H] and [D].
struct DenseFfnWeights {
  torch::Tensor fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

// Experts in moe/experts.h's batched layout: fc1 [E,D,W] and [E,1,W], fc2 [E,W,D] and [E,1,D].
struct ExpertWeights {
  torch::Tensor fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

// `num_experts` experts of width `width` from a dense FFN of width H. width == H: every expert a
// full copy. width < H with H % width == 0: expert e takes the hidden units
// [s·width, (s+1)·width), s = e mod (H / width): those rows of fc1's weight and bias and those
// columns of fc2's weight (experts 0 .. H/width - 1 together hold the dense FFN once); each keeps
// fc2's whole bias. Anything else is refused (std::invalid_argument naming `key`, e.g.
// "moe.expert_mlp_dim").
ExpertWeights experts_from_dense(const DenseFfnWeights& dense, int64_t num_experts, int64_t width,
                                 const char* key);

// The shared experts of moe/moe_layer.h, one merged Experts module of width count·width: the
// `count` slices above side by side along the hidden axis, fc2's bias once.
ExpertWeights shared_experts_from_dense(const DenseFfnWeights& dense, int64_t count, int64_t width);

}  // namespace moevit
