#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <optional>

#include "moe/moe_layer.h"
#include "vit/attention.h"
#include "vit/mlp.h"
#include "vit/model_config.h"

namespace moevit {

struct BlockOutput {
  torch::Tensor tokens;                 // [B,N,D]
  std::optional<RouterOutput> routing;  // set when the block's FFN is an MoE layer
};

// Pre-LN transformer block: x += attention(norm1(x)); x += ffn(norm2(x)), where the FFN is the
// dense Mlp or, in the blocks the placement names, an MoE layer. In training each branch may be
// dropped per sample (stochastic depth).
class BlockImpl : public torch::nn::Module {
 public:
  // drop_path_rate: this block's stochastic-depth rate (vit/drop_path.h), 0 for none.
  BlockImpl(const ModelConfig& config, bool use_moe, double drop_path_rate = 0.0);

  // tokens [B,N,D] → [B,N,D]
  BlockOutput forward(const torch::Tensor& tokens);

  bool has_moe() const { return !moe.is_empty(); }

  torch::nn::LayerNorm norm1{nullptr};
  Attention attention{nullptr};
  torch::nn::LayerNorm norm2{nullptr};
  Mlp mlp{nullptr};       // dense blocks
  MoeLayer moe{nullptr};  // MoE blocks

 private:
  double drop_path_rate_ = 0.0;
};
TORCH_MODULE(Block);

}  // namespace moevit
