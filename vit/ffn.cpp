#include "vit/ffn.h"

#include <utility>

#include "vit/mlp.h"

namespace moevit {

namespace {

class DenseFfn : public Ffn {
 public:
  explicit DenseFfn(Mlp mlp) : Ffn("mlp", mlp.ptr()), mlp_(std::move(mlp)) {}

  FfnOutput forward(const torch::Tensor& tokens) override {
    return {mlp_->forward(tokens), std::nullopt};
  }

 private:
  Mlp mlp_;
};

class MoeFfn : public Ffn {
 public:
  explicit MoeFfn(MoeLayer layer) : Ffn("moe", layer.ptr()), layer_(std::move(layer)) {}

  FfnOutput forward(const torch::Tensor& tokens) override {
    MoeLayerOutput output = layer_->forward(tokens);
    return {std::move(output.output), std::move(output.routing)};
  }
  MoeLayer moe_layer() const override { return layer_; }

 private:
  MoeLayer layer_;
};

}  // namespace

std::unique_ptr<Ffn> dense_ffn(const ModelConfig& config) {
  return std::make_unique<DenseFfn>(Mlp(config.dim, config.mlp_dim, config.dropout));
}

std::unique_ptr<Ffn> moe_ffn(const ModelConfig& config) {
  return std::make_unique<MoeFfn>(
      MoeLayer(config.moe, config.dim, config.expert_mlp_dim(), config.num_tokens()));
}

}  // namespace moevit
