// Auxiliary balancing losses of token-choice routers: functions of the gates alone, each
// computed per group and averaged over groups (as vmoe vmaps them). Soft-MoE needs none.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "moe/moe_options.h"

namespace moevit {

struct Gates;

// Each term unweighted (scalars, float32), and their weighted sum.
struct AuxLosses {
  at::Tensor importance;
  at::Tensor load;
  at::Tensor switch_balance;
  at::Tensor z_loss;
  at::Tensor total;  // Σ weight · term

  static AuxLosses zeros(const at::TensorOptions& options);
  AuxLosses& operator+=(const AuxLosses& other);
};

// Importance loss (V-MoE eq. 6): CV² over experts of the summed clean gates.
//   clean_probs [G,S,E]. Note: population variance (vmoe's jnp.std), not torch's unbiased one.
at::Tensor importance_loss(const at::Tensor& clean_probs);

// Load loss (V-MoE appendix A.2): CV² over experts of the mean probability that each expert
// stays in the top-k under a fresh draw of the noise:
//   P[s,e] = 1 − Φ((k-th largest noisy logit of s − clean logit[s,e]) / σ).
// clean_logits, noisy_logits [G,S,E]; σ = noise std actually used (> 0).
at::Tensor load_loss(const at::Tensor& clean_logits, const at::Tensor& noisy_logits,
                     double noise_std, int64_t experts_per_token);

// Switch / GShard balance loss: E · Σ_e f_e · P_e, f_e the fraction of tokens whose top-1
// expert is e, P_e the mean gate of e (GShard Algorithm 1 line 13; vmoe `_gshard_auxiliary_loss`).
//   probs [G,S,E]; per group, averaged over groups. With global_top1_fraction [E] (global-batch
//   balance, Qiu et al. 2025 eq. 4) f_e is that, a constant, and P_e the mean gate over all the
//   tokens here: E · Σ_e f_e^global · P_e^local.
at::Tensor switch_balance_loss(const at::Tensor& probs,
                               const at::Tensor& global_top1_fraction = {});

// Router z-loss (ST-MoE eq. 5): mean over tokens of logsumexp(logits)². logits [G,S,E].
at::Tensor router_z_loss(const at::Tensor& logits);

// All four from the gates, weighted. Without noise the load loss equals the importance loss
// (vmoe does the same in deterministic mode).
// global_top1_fraction: see switch_balance_loss (undefined: per group).
AuxLosses token_choice_aux_losses(const Gates& gates, int64_t experts_per_token,
                                  const AuxLossWeights& weights,
                                  const at::Tensor& global_top1_fraction = {});

}  // namespace moevit
