#include "moe/aux_losses.h"

#include <cmath>

#include "moe/gating.h"

namespace moevit {

namespace {

// Squared coefficient of variation over the last axis, averaged over the others.
// values [G,E] → scalar. The epsilon only guards an all-zero row.
at::Tensor mean_cv_squared(const at::Tensor& values) {
  const at::Tensor mean = values.mean(-1);
  const at::Tensor variance = values.var(-1, /*unbiased=*/false);
  return (variance / (mean * mean + 1e-20)).mean();
}

}  // namespace

AuxLosses AuxLosses::zeros(const at::TensorOptions& options) {
  const at::Tensor zero = at::zeros({}, options.dtype(at::kFloat));
  return {zero, zero, zero, zero, zero};
}

AuxLosses& AuxLosses::operator+=(const AuxLosses& other) {
  importance = importance + other.importance;
  load = load + other.load;
  switch_balance = switch_balance + other.switch_balance;
  z_loss = z_loss + other.z_loss;
  total = total + other.total;
  return *this;
}

at::Tensor importance_loss(const at::Tensor& clean_probs) {
  return mean_cv_squared(clean_probs.sum(1));
}

at::Tensor load_loss(const at::Tensor& clean_logits, const at::Tensor& noisy_logits,
                     double noise_std, int64_t experts_per_token) {
  // The threshold an expert's noisy logit must beat: the k-th largest noisy logit. It is
  // treated as a constant, as in the paper (gradients flow through the clean logits).
  const at::Tensor threshold =
      std::get<0>(noisy_logits.topk(experts_per_token, -1)).select(-1, experts_per_token - 1);
  const at::Tensor noise_required_to_win =
      (threshold.unsqueeze(-1).detach() - clean_logits) / noise_std;
  // 1 − Φ(z) = erfc(z / √2) / 2.
  const at::Tensor probability_selected = 0.5 * at::erfc(noise_required_to_win * M_SQRT1_2);
  return mean_cv_squared(probability_selected.mean(1));
}

at::Tensor switch_balance_loss(const at::Tensor& probs, const at::Tensor& global_top1_fraction) {
  const int64_t num_experts = probs.size(-1);
  if (global_top1_fraction.defined()) {
    const at::Tensor mean_gate = probs.reshape({-1, num_experts}).mean(0);  // [E]
    return (global_top1_fraction.detach().to(mean_gate.scalar_type()) * mean_gate).sum() *
           static_cast<double>(num_experts);
  }
  const at::Tensor top1_fraction =
      at::one_hot(probs.argmax(-1), num_experts).to(probs.scalar_type()).mean(1);  // [G,E]
  const at::Tensor mean_gate = probs.mean(1);                                      // [G,E]
  return ((top1_fraction * mean_gate).sum(-1) * static_cast<double>(num_experts)).mean();
}

at::Tensor router_z_loss(const at::Tensor& logits) {
  return logits.logsumexp(-1).pow(2).mean();
}

AuxLosses token_choice_aux_losses(const Gates& gates, int64_t experts_per_token,
                                  const AuxLossWeights& weights,
                                  const at::Tensor& global_top1_fraction) {
  // Only weighted terms are computed (each costs a pass over [G,S,E], the load loss an erfc on
  // top); a term with weight 0 is reported as 0.
  AuxLosses losses = AuxLosses::zeros(gates.clean_logits.options());
  if (weights.importance != 0 || (weights.load != 0 && gates.noise_std <= 0))
    losses.importance = importance_loss(gates.clean_probs);
  if (weights.load != 0)
    losses.load = gates.noise_std > 0 ? load_loss(gates.clean_logits, gates.noisy_logits,
                                                  gates.noise_std, experts_per_token)
                                      : losses.importance;
  if (weights.switch_balance != 0)
    losses.switch_balance = switch_balance_loss(gates.probs, global_top1_fraction);
  if (weights.z_loss != 0) losses.z_loss = router_z_loss(gates.clean_logits);
  losses.total = weights.importance * losses.importance + weights.load * losses.load +
                 weights.switch_balance * losses.switch_balance + weights.z_loss * losses.z_loss;
  return losses;
}

}  // namespace moevit
