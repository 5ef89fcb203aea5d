// Soft-MoE routing (Puigcerver et al., arXiv 2308.00951): every slot takes a convex mix of all
// tokens of its group, every token a convex mix of all slot outputs. No drops, no aux loss.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "moe/router_output.h"

namespace moevit {

// Soft-MoE logits with the paper's normalisation (appendix E): l2norm(x) · (scale · l2norm(φ)).
//   tokens [G,S,D], phi [D, E·C], scale [] → [G,S,E·C] float32 (float64 for float64 tokens).
at::Tensor soft_router_logits(const at::Tensor& tokens, const at::Tensor& phi,
                              const at::Tensor& scale);

// logits [G,S,E·C] → dispatch = softmax over tokens (per slot), combine = softmax over slots
// (per token).
RouterOutput route_soft(const at::Tensor& logits, int64_t num_experts, int64_t slots_per_expert);

}  // namespace moevit
