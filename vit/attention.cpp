#include "vit/attention.h"

#include <torch/version.h>

#include <cmath>

#include "moe/small_matmul.h"
#include "vit/linear.h"

namespace moevit {

AttentionImpl::AttentionImpl(int64_t dim, int64_t heads, double dropout) : heads_(heads) {
  TORCH_CHECK(dim % heads == 0, "Attention: dim (", dim, ") must be divisible by heads (", heads,
              ")");
  qkv = register_module("qkv", torch::nn::Linear(dim, 3 * dim));
  projection = register_module("projection", torch::nn::Linear(dim, dim));
  projection_dropout = register_module("projection_dropout", torch::nn::Dropout(dropout));
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
#if TORCH_VERSION_MAJOR >= 2
  // Fused kernel (flash / memory-efficient on CUDA) where LibTorch has it.
  torch::Tensor context = at::scaled_dot_product_attention(query, key, value);
#else
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));
  // B·heads products of N×d by d×N: small_matmul, not matmul (see moe/small_matmul.h).
  const torch::Tensor weights =
      torch::softmax(small_matmul(query * scale, key.transpose(-2, -1)), -1);
  torch::Tensor context = small_matmul(weights, value);
#endif
  context = context.transpose(1, 2).reshape({batch, length, width});
  return projection_dropout->forward(apply_linear(projection, context));
}

}  // namespace moevit
