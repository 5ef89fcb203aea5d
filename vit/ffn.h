// A block's FFN branch, chosen once when the model is built, as timm's Block takes `mlp_layer`
// and vmoe's EncoderBlock an `mlp_block`: the dense Mlp or an MoE layer behind one call. The
// block registers the FFN's module under its name ("mlp" or "moe": the checkpoint keys
// blocks.N.mlp.* and blocks.N.moe.*) and calls `forward`, never asking which kind it holds.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <optional>
#include <utility>

#include "moe/moe_layer.h"
#include "moe/router_output.h"
#include "vit/model_config.h"

namespace moevit {

struct FfnOutput {
  torch::Tensor tokens;                 // [B,N,D]
  std::optional<RouterOutput> routing;  // set by an MoE layer
};

class Ffn {
 public:
  // `module`: the submodule the block registers, under `name` (a string literal).
  Ffn(const char* name, std::shared_ptr<torch::nn::Module> module)
      : name_(name), module_(std::move(module)) {}
  virtual ~Ffn() = default;

  const char* name() const { return name_; }
  const std::shared_ptr<torch::nn::Module>& module() const { return module_; }

  // tokens [B,N,D] → [B,N,D], with the routing when the FFN is an MoE layer.
  virtual FfnOutput forward(const torch::Tensor& tokens) = 0;

  // The MoE layer, for what steers it from outside (routing statistics, bias balancing, the eval
  // capacity factor); an empty holder for the dense FFN.
  virtual MoeLayer moe_layer() const { return MoeLayer{nullptr}; }

 private:
  const char* name_;
  std::shared_ptr<torch::nn::Module> module_;
};

// What a block is given to build its FFN from the model's config (timm's `mlp_layer`).
using FfnLayer = std::unique_ptr<Ffn> (*)(const ModelConfig& config);

// The dense FFN, Mlp(dim, mlp_dim, dropout), registered as "mlp".
std::unique_ptr<Ffn> dense_ffn(const ModelConfig& config);

// An MoE layer of config.moe with experts of width config.expert_mlp_dim(), registered as "moe".
std::unique_ptr<Ffn> moe_ffn(const ModelConfig& config);

}  // namespace moevit
