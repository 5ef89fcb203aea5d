#include "moe/gating.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

namespace moevit {

at::Tensor router_logits_fp32(const at::Tensor& tokens, const at::Tensor& weight) {
  // Autocast would cast both operands of the matmul to bf16; step outside it for this one.
  const c10::impl::ExcludeDispatchKeyGuard no_autocast(c10::autocast_dispatch_keyset);
  return at::matmul(tokens.to(at::kFloat), weight.to(at::kFloat));
}

namespace {

// Sigmoid scores → a distribution over the experts (each row sums to 1).
at::Tensor normalised(const at::Tensor& scores) {
  return scores / scores.sum(-1, /*keepdim=*/true).clamp_min(1e-20);
}

}  // namespace

Gates compute_gates(const at::Tensor& logits, double noise_std, bool training, GateFunction gate) {
  Gates gates;
  gates.clean_logits = logits.to(at::kFloat);
  const int64_t num_experts = logits.size(-1);
  gates.noisy_logits = gates.clean_logits;
  if (training && noise_std > 0) {
    gates.noise_std = noise_std / static_cast<double>(num_experts);
    gates.noisy_logits = gates.clean_logits + at::randn_like(gates.clean_logits) * gates.noise_std;
  }
  const bool noisy = gates.noise_std > 0;
  if (gate == GateFunction::kSigmoid) {
    gates.scores = at::sigmoid(gates.noisy_logits);
    gates.probs = normalised(gates.scores);
    gates.clean_probs = noisy ? normalised(at::sigmoid(gates.clean_logits)) : gates.probs;
  } else {
    gates.scores = at::softmax(gates.noisy_logits, -1);
    gates.probs = gates.scores;
    gates.clean_probs = noisy ? at::softmax(gates.clean_logits, -1) : gates.probs;
  }
  return gates;
}

}  // namespace moevit
