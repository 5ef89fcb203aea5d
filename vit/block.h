#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "moe/moe_layer.h"
#include "vit/attention.h"
#include "vit/ffn.h"
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

// Each residual branch's stochastic-depth rate.
struct BlockDropPath {
  double attention = 0.0;
  double ffn = 0.0;
};

// Pre-LN transformer block: x += attention(norm1(x)); x += ffn(norm2(x)), where the FFN is the
// one the block was given (vit/ffn.h): the dense Mlp or, in the blocks the placement names, an
// MoE layer. In training each branch may be dropped per sample (stochastic depth).
class BlockImpl : public torch::nn::Module {
 public:
  // ffn_layer builds the FFN (dense_ffn or moe_ffn), registered as "mlp" or "moe".
  // drop_path: this block's stochastic-depth rates (vit/drop_path.h), 0 for none.
  BlockImpl(const ModelConfig& config, FfnLayer ffn_layer, BlockDropPath drop_path = {});

  // tokens [B,N,D] → [B,N,D]. measure_branch: also report the FFN branch's size.
  BlockOutput forward(const torch::Tensor& tokens, bool measure_branch = false);

  Ffn& ffn() { return *ffn_; }
  // The block's MoE layer; an empty holder when its FFN is dense.
  MoeLayer moe_layer() const { return ffn_->moe_layer(); }
  bool has_moe() const { return !moe_layer().is_empty(); }
  const BlockDropPath& drop_path() const { return drop_path_; }

  torch::nn::LayerNorm norm1{nullptr};
  Attention attention{nullptr};
  torch::nn::LayerNorm norm2{nullptr};

 private:
  std::shared_ptr<Ffn> ffn_;
  BlockDropPath drop_path_;
};
TORCH_MODULE(Block);

}  // namespace moevit
