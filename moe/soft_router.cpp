#include "moe/soft_router.h"

namespace moevit {

at::Tensor soft_router_logits(const at::Tensor& tokens, const at::Tensor& phi,
                              const at::Tensor& scale) {
  // Normalising both sides keeps the logits from growing with D, which would collapse the
  // softmaxes to one-hot (paper, appendix E).
  const at::Tensor tokens_unit = tokens / tokens.norm(2, -1, /*keepdim=*/true).clamp_min(1e-6);
  const at::Tensor phi_unit = phi / phi.norm(2, 0, /*keepdim=*/true).clamp_min(1e-6);
  return at::matmul(tokens_unit, scale * phi_unit).to(at::kFloat);
}

RouterOutput route_soft(const at::Tensor& logits, int64_t num_experts, int64_t slots_per_expert) {
  const at::Tensor float_logits = logits.to(at::kFloat);
  RouterOutput output;
  output.plan = make_soft_plan(/*dispatch_weight=*/at::softmax(float_logits, 1),
                               /*combine_weight=*/at::softmax(float_logits, 2), num_experts,
                               slots_per_expert);
  output.aux = AuxLosses::zeros(logits.options());
  return output;
}

}  // namespace moevit
