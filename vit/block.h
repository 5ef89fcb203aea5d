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

// How large a block's FFN branch (dense MLP or MoE layer, shared experts included) is against
// the residual stream it is added to: sums over tokens of each token's root-mean-square over
// the D channels. A branch far smaller than the stream changes little (docs/results.md).
struct BranchSize {
  double branch_rms_sum = 0;
  double residual_rms_sum = 0;
  int64_t tokens = 0;

  double branch_rms() const { return tokens ? branch_rms_sum / tokens : 0.0; }
  double residual_rms() const { return tokens ? residual_rms_sum / tokens : 0.0; }
  BranchSize& operator+=(const BranchSize& other);
};

struct BlockOutput {
  torch::Tensor tokens;                 // [B,N,D]
  std::optional<RouterOutput> routing;  // set when the block's FFN is an MoE layer
  std::optional<BranchSize> ffn_size;   // set when forward was asked to measure it
};

// Pre-LN transformer block: x += attention(norm1(x)); x += ffn(norm2(x)), where the FFN is the
// dense Mlp or, in the blocks the placement names, an MoE layer. In training each branch may be
// dropped per sample (stochastic depth).
class BlockImpl : public torch::nn::Module {
 public:
  // drop_path_rate: this block's stochastic-depth rate (vit/drop_path.h), 0 for none.
  BlockImpl(const ModelConfig& config, bool use_moe, double drop_path_rate = 0.0);

  // tokens [B,N,D] → [B,N,D]. measure_branch: also report the FFN branch's size.
  BlockOutput forward(const torch::Tensor& tokens, bool measure_branch = false);

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
