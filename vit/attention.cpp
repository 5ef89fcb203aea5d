#include "vit/attention.h"

#include <torch/version.h>

#include <cmath>
#include <limits>

#include "ops/small_matmul.h"
#include "vit/linear.h"

namespace moevit {

torch::Tensor attention_weights(const torch::Tensor& scaled_query, const torch::Tensor& key,
                                bool mask_self) {
  // B·heads products of N×d by d×N: small_matmul, not matmul (see ops/small_matmul.h).
  torch::Tensor scores = small_matmul(scaled_query, key.transpose(-2, -1));
  if (mask_self) {
    const int64_t length = scores.size(-1);
    const torch::Tensor diagonal =
        torch::eye(length, torch::TensorOptions().dtype(torch::kBool).device(scores.device()));
    scores = scores.masked_fill(diagonal, -std::numeric_limits<double>::infinity());
  }
  return torch::softmax(scores, -1);
}

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads, double dropout, AttentionKind kind)
    : heads_(heads) {
  TORCH_CHECK(dim % heads == 0, "Attention: dim (", dim, ") must be divisible by heads (", heads,
              ")");
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  projection = register_module("projection", torch::nn::Linear(dim, dim));
  projection_dropout = register_module("projection_dropout", torch::nn::Dropout(dropout));
  if (kind == AttentionKind::kLocalitySelf)
    scale = register_parameter(
        "scale", torch::full({heads}, 1.0 / std::sqrt(static_cast<double>(dim / heads))));
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& tokens) {
  const int64_t batch = tokens.size(0), length = tokens.size(1), width = tokens.size(2);
  const int64_t head_dim = width / heads_;
  // [B,N,3D] → [3, B, heads, N, head_dim]
  const torch::Tensor qkv_heads = apply_linear(qkv, tokens)
                                      .reshape({batch, length, 3, heads_, head_dim})
                                      .permute({2, 0, 3, 1, 4});
  // unbind, not three selects: each select's backward would allocate a zeroed [3,B,h,N,d] tensor.
  const std::vector<torch::Tensor> qkv_parts = qkv_heads.unbind(0);
  const torch::Tensor &query = qkv_parts[0], &key = qkv_parts[1], &value = qkv_parts[2];
  torch::Tensor context;
  if (scale.defined()) {
    // In the query's dtype, so that a bf16 query stays bf16 (a [heads] fp32 factor would
    // promote the products to fp32).
    const torch::Tensor head_scale = scale.to(query.scalar_type()).view({1, heads_, 1, 1});
    context = small_matmul(attention_weights(query * head_scale, key, /*mask_self=*/true), value);
  } else {
#if TORCH_VERSION_MAJOR >= 2
    // Fused kernel (flash / memory-efficient on CUDA) where LibTorch has it.
    context = at::scaled_dot_product_attention(query, key, value);
#else
    const double fixed_scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
    context = small_matmul(attention_weights(query * fixed_scale, key, /*mask_self=*/false), value);
#endif
  }
  context = context.transpose(1, 2).reshape({batch, length, width});
  return projection_dropout->forward(apply_linear(projection, context));
}

}  // namespace moevit
