// Noisy gating for token-choice routers (V-MoE, arXiv 2106.05974, eq. 2-3): one function
// serves top-k and priority routing.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace moevit {

struct Gates {
  at::Tensor clean_logits;  // [G,S,E] float, router logits without noise
  at::Tensor noisy_logits;  // [G,S,E] float, with training noise (== clean_logits without it)
  at::Tensor clean_probs;   // [G,S,E] softmax(clean_logits)
  at::Tensor probs;         // [G,S,E] softmax(noisy_logits): what routing uses
  double noise_std = 0;     // σ of the noise actually added (0 when none)
};

// Router logits tokens [G,S,D] · weight [D,E] → [G,S,E], computed in float32 even inside a bf16
// autocast region. Switch Transformer §2.4 ("selective precision") and vmoe keep the router in
// float32: bf16 keeps ~3 significant digits, so near-equal logits tie and top-k then picks the
// lowest expert index for all of them.
at::Tensor router_logits_fp32(const at::Tensor& tokens, const at::Tensor& weight);

// logits [G,S,E]. In training adds N(0, (noise_std/E)²) (vmoe: noise_std 1.0 → σ = 1/E).
// Computed in float32 whatever the input dtype: softmax and top-k stay exact under bf16.
Gates compute_gates(const at::Tensor& logits, double noise_std, bool training);

}  // namespace moevit
