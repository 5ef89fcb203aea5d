#include "vit/vision_transformer.h"

#include <algorithm>

#include "vit/drop_path.h"
#include "vit/ffn.h"
#include "vit/init.h"

namespace moevit {

VisionTransformerImpl::VisionTransformerImpl(const ModelConfig& config, WeightInit init)
    : config_(config) {
  check_model_config(config);
  patch_embed = register_module("patch_embed", PatchEmbed(config));
  if (config.pooling == Pooling::kClassToken)
    class_token = register_parameter("class_token", torch::zeros({1, 1, config.dim}));
  position_embedding =
      register_parameter("position_embedding", torch::zeros({1, config.num_tokens(), config.dim}));
  const std::vector<int64_t> moe_ids = moe_block_ids(config);
  const std::vector<double> drop_rates = drop_path_rates(config.drop_path, config.depth);
  blocks = register_module("blocks", torch::nn::ModuleList());
  for (int64_t id = 0; id < config.depth; ++id) {
    const bool use_moe = std::find(moe_ids.begin(), moe_ids.end(), id) != moe_ids.end();
    const FfnLayer ffn_layer = use_moe ? &moe_ffn : &dense_ffn;
    const double ffn_rate = use_moe && !config.drop_path_moe ? 0.0 : drop_rates[id];
    block_list_.push_back(Block(config, ffn_layer, BlockDropPath{drop_rates[id], ffn_rate}));
    blocks->push_back(block_list_.back());
  }
  norm = register_module("norm",
                         torch::nn::LayerNorm(torch::nn::LayerNormOptions({config.dim}).eps(1e-6)));
  head = register_module("head", torch::nn::Linear(config.dim, config.num_classes));
  if (init == WeightInit::kForTraining) init_vit_weights(*this);
}

VitFeatures VisionTransformerImpl::forward_features(const torch::Tensor& images, bool keep_routing,
                                                    bool measure_branches) {
  torch::Tensor tokens = patch_embed->forward(images);  // [B, patches, D]
  if (class_token.defined())
    tokens = torch::cat(
        {class_token.expand({tokens.size(0), 1, -1}).to(tokens.scalar_type()), tokens}, 1);
  tokens = tokens + position_embedding;
  VitFeatures features;
  features.aux = AuxLosses::zeros(tokens.options());
  for (size_t id = 0; id < block_list_.size(); ++id) {
    BlockOutput block_output = block_list_[id]->forward(tokens, measure_branches);
    tokens = block_output.tokens;
    if (block_output.ffn_size) features.ffn_sizes.push_back(*block_output.ffn_size);
    if (!block_output.routing) continue;
    features.aux += block_output.routing->aux;
    if (keep_routing)
      features.routing.push_back({static_cast<int64_t>(id), std::move(*block_output.routing)});
  }
  features.tokens = norm->forward(tokens);
  return features;
}

torch::Tensor VisionTransformerImpl::forward_head(const torch::Tensor& tokens) {
  const torch::Tensor pooled = config_.pooling == Pooling::kClassToken
                                   ? tokens.select(1, 0)
                                   : tokens.mean(1);  // global average pool over patches
  return head->forward(pooled);
}

VitOutput VisionTransformerImpl::forward(const torch::Tensor& images, bool keep_routing,
                                         bool measure_branches) {
  VitFeatures features = forward_features(images, keep_routing, measure_branches);
  return {forward_head(features.tokens), features.aux, std::move(features.routing),
          std::move(features.ffn_sizes)};
}

std::vector<MoeLayer> VisionTransformerImpl::moe_layers() const {
  std::vector<MoeLayer> layers;
  for (const Block& block : block_list_)
    if (block->has_moe()) layers.push_back(block->moe_layer());
  return layers;
}

void VisionTransformerImpl::set_eval_capacity_factor(double factor) {
  for (MoeLayer& layer : moe_layers()) layer->set_eval_capacity_factor(factor);
}

}  // namespace moevit
