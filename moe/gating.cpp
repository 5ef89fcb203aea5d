#include "moe/gating.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

namespace moevit {

at::Tensor router_logits_fp32(const at::Tensor& tokens, const at::Tensor& weight) {
  // Autocast would cast both operands of the matmul to bf16; step outside it for this one.
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  return at::matmul(tokens.to(at::kFloat), weight.to(at::kFloat));
}

Gates compute_gates(const at::Tensor& logits, double noise_std, bool training) {
  Gates gates;
  gates.clean_logits = logits.to(at::kFloat);
  gates.clean_probs = at::softmax(gates.clean_logits, -1);
  const int64_t num_experts = logits.size(-1);
  if (training && noise_std > 0) {
    gates.noise_std = noise_std / static_cast<double>(num_experts);
    gates.noisy_logits = gates.clean_logits + at::randn_like(gates.clean_logits) * gates.noise_std;
    gates.probs = at::softmax(gates.noisy_logits, -1);
  } else {
    gates.noisy_logits = gates.clean_logits;
    gates.probs = gates.clean_probs;
  }
  return gates;
}

}  // namespace moevit
