// The ViT-MoE classifier: patch embedding (+ class token) + position embeddings → L pre-LN
// blocks (some with MoE FFNs) → final norm → pool → linear head. Reads top to bottom.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <vector>

#include "moe/router_output.h"
#include "vit/block.h"
#include "vit/model_config.h"
#include "vit/patch_embed.h"

namespace moevit {

struct LayerRouting {
  int64_t block = 0;  // 0-based block id
  RouterOutput routing;
};

struct VitFeatures {
  torch::Tensor tokens;  // [B,N,D] after the final norm (N includes the class token if any)
  AuxLosses aux;         // summed over MoE layers (zeros for a dense model)
  std::vector<LayerRouting> routing;  // one per MoE layer, only when asked for
  std::vector<BranchSize> ffn_sizes;  // one per block (dense or MoE), with measure_branches
};

struct VitOutput {
  torch::Tensor logits;               // [B, classes]
  AuxLosses aux;                      // summed over MoE layers; add aux.total to the task loss
  std::vector<LayerRouting> routing;  // one per MoE layer when keep_routing, else empty
  std::vector<BranchSize> ffn_sizes;  // one per block with measure_branches, else empty
};

// What the constructor leaves in the weights. kForTraining: the training init of vit/init.h.
// kOverwrittenByCheckpoint: only the submodules' own default init, for a caller that loads every
// parameter from a checkpoint next (eval, classify, heatmap): a second random init of a large
// MoE model would be a visible share of classify's latency, all of it thrown away.
enum class WeightInit { kForTraining, kOverwrittenByCheckpoint };

class VisionTransformerImpl : public torch::nn::Module {
 public:
  explicit VisionTransformerImpl(const ModelConfig& config,
                                 WeightInit init = WeightInit::kForTraining);

  // images [B,C,H,W] → logits. keep_routing keeps every MoE layer's plan (heatmaps, stats);
  // without it the plans are released as soon as each layer has run. measure_branches also
  // measures every block's FFN branch against the residual stream (evaluation's report).
  VitOutput forward(const torch::Tensor& images, bool keep_routing = false,
                    bool measure_branches = false);
  VitFeatures forward_features(const torch::Tensor& images, bool keep_routing = false,
                               bool measure_branches = false);
  torch::Tensor forward_head(const torch::Tensor& tokens);  // [B,N,D] → [B, classes]

  const ModelConfig& config() const { return config_; }
  std::vector<MoeLayer> moe_layers() const;
  void set_eval_capacity_factor(double factor);  // on every MoE layer

  PatchEmbed patch_embed{nullptr};
  torch::Tensor class_token;         // [1,1,D], only with class-token pooling
  torch::Tensor position_embedding;  // [1, N, D]
  torch::nn::ModuleList blocks{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear head{nullptr};

 private:
  ModelConfig config_;
  std::vector<Block> block_list_;
};
TORCH_MODULE(VisionTransformer);

}  // namespace moevit
