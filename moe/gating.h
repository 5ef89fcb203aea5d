// Noisy gating for routers with per-expert gates (V-MoE, arXiv 2106.05974, eq. 2-3): one
// function serves top-k, priority and Expert Choice routing, with a softmax or a sigmoid gate.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "moe/moe_options.h"

namespace moevit {

struct Gates {
  at::Tensor clean_logits;  // [G,S,E] float, router logits without noise
  at::Tensor noisy_logits;  // [G,S,E] float, with training noise (== clean_logits without it)
  // [G,S,E] the affinities that choose experts and weigh their outputs: softmax or sigmoid of
  // noisy_logits (DeepSeek-V3 eq. 15 for the sigmoid).
  at::Tensor scores;
  // [G,S,E] distributions over the experts, for the balance losses: softmax of the clean and
  // noisy logits, or with a sigmoid gate the scores divided by their sum over the experts (as
  // DeepSeek-V3's sequence-wise balance loss normalises them, eq. 19).
  at::Tensor clean_probs;
  at::Tensor probs;
  double noise_std = 0;  // σ of the noise actually added (0 when none)
};

// Router logits tokens [G,S,D] · weight [D,E] → [G,S,E], computed in float32 even inside a bf16
// autocast region. Switch Transformer §2.4 ("selective precision") and vmoe keep the router in
// float32: bf16 keeps ~3 significant digits, so near-equal logits tie and top-k then picks the
// lowest expert index for all of them.
at::Tensor router_logits_fp32(const at::Tensor& tokens, const at::Tensor& weight);

// logits [G,S,E]. In training adds N(0, (noise_std/E)²) (vmoe: noise_std 1.0 → σ = 1/E) to the
// logits, before the softmax or sigmoid. Computed in float32 whatever the input dtype: the gates
// and top-k stay exact under bf16.
Gates compute_gates(const at::Tensor& logits, double noise_std, bool training,
                    GateFunction gate = GateFunction::kSoftmax);

}  // namespace moevit
