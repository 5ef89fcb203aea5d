// Auxiliary-loss-free load balancing (DeepSeek-V3, arXiv 2412.19437 §2.1.2; Wang et al. 2024,
// arXiv 2408.15664): each expert has a bias b_e added to its affinity only when experts are
// chosen; after every optimizer step the bias of an overloaded expert goes down and that of an
// underloaded one up by a fixed step γ:  b_e ← b_e + γ · sign(mean load − load_e).
// The bias gets no gradient, so it never trades accuracy for balance in the loss.
#pragma once

#include <ATen/ATen.h>

#include "moe/dispatch_plan.h"

namespace moevit {

// Tokens that chose each expert, before capacity drops: [E] float64 on the CPU, from a
// token-choice plan.
// (With the bias, "chose" means among the token's top-k of score + bias.)
at::Tensor chosen_expert_counts(const DispatchPlan& plan);

// bias [E] float (updated in place) from the global batch's loads [E] (any dtype): a step of
// `rate` towards the mean load. An expert at exactly the mean load keeps its bias.
void update_expert_bias(at::Tensor& bias, const at::Tensor& load, double rate);

}  // namespace moevit
