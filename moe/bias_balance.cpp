#include "moe/bias_balance.h"

namespace moevit {

at::Tensor chosen_expert_counts(const DispatchPlan& plan) {
  TORCH_CHECK(!plan.is_soft(), "chosen_expert_counts: expected a token-choice plan");
  const at::Tensor chosen = plan.slot_index.detach().ge(0).reshape(-1).to(at::kDouble);
  // On the CPU whatever the plan's device: E numbers, summed over steps and all-reduced by Gloo.
  return at::zeros({plan.num_experts}, chosen.options())
      .index_add_(0, plan.expert_index.detach().reshape(-1), chosen)
      .cpu();
}

void update_expert_bias(at::Tensor& bias, const at::Tensor& load, double rate) {
  TORCH_CHECK(load.dim() == 1 && load.size(0) == bias.size(0),
              "update_expert_bias: expected one load per expert (", bias.size(0), "), got ",
              load.sizes());
  const at::NoGradGuard no_grad;
  const at::Tensor loads = load.to(at::kDouble);
  const at::Tensor step = at::sign(loads.mean() - loads) * rate;
  bias.add_(step.to(bias.scalar_type()).to(bias.device()));
}

}  // namespace moevit
