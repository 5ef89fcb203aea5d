#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "vit/model_config.h"

namespace moevit {

// softmax(scaled_query · keyᵀ) over the keys, for [B, heads, N, d] query and key: the attention
// weights [B, heads, N, N]. mask_self leaves each token's own key out (its weight is exactly 0).
torch::Tensor attention_weights(const torch::Tensor& scaled_query, const torch::Tensor& key,
                                bool mask_self);

// Multi-head self-attention with one qkv projection (timm Attention), scale head_dim^-0.5; or,
// with AttentionKind::kLocalitySelf, LSA (Lee et al. 2021, §3.2): a learned scale per head
// (the inverse of their temperature, starting at head_dim^-0.5) and the diagonal masked, which
// sharpens attention that small data sets otherwise leave flat and self-centred.
class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(int64_t dim, int64_t heads, double dropout = 0.0,
                AttentionKind kind = AttentionKind::kStandard);

  // tokens [B,N,D] → [B,N,D]
  torch::Tensor forward(const torch::Tensor& tokens);

  torch::nn::Linear qkv{nullptr};
  torch::nn::Linear projection{nullptr};
  torch::nn::Dropout projection_dropout{nullptr};
  torch::Tensor scale;  // LSA: [heads], learned; standard: undefined (a fixed head_dim^-0.5)

 private:
  int64_t heads_;
};
TORCH_MODULE(Attention);

}  // namespace moevit
