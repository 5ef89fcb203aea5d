#include "moe/soft_router.h"

namespace moevit {

at::Tensor soft_router_logits(const at::Tensor& tokens, const at::Tensor& phi,
                              const at::Tensor& scale) {
  // Normalising both sides keeps the logits from growing with D, which would collapse the
  // softmaxes to one-hot (paper, appendix E). (x / |x|) · φ̂ = (x · φ̂) / |x|: dividing the
  // [G,S,E·C] product instead of the [G,S,D] tokens saves passes over the tokens, forward and
  // backward (E·C ≤ D in every shipped config; docs/performance.md, "Changes and their effect").
  const at::Tensor token_norm =
      at::linalg_vector_norm(tokens, 2, {-1}, /*keepdim=*/true,
                             at::promote_types(tokens.scalar_type(), at::kFloat))
          .clamp_min(1e-6);
  const at::Tensor phi_unit = phi / phi.norm(2, 0, /*keepdim=*/true).clamp_min(1e-6);
  // Under bf16 autocast the product is bf16; dividing by the float32 norm promotes to float32.
  return at::matmul(tokens, scale * phi_unit) / token_norm;
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
