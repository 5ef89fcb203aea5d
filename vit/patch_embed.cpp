#include "vit/patch_embed.h"

#include <torch/nn/modules/activation.h>

namespace moevit {

PatchEmbedImpl::PatchEmbedImpl(const ModelConfig& config)
    : image_size_(config.image_size), channels_(config.channels) {
  if (config.stem == Stem::kPatch) {
    projection = register_module(
        "projection",
        torch::nn::Conv2d(torch::nn::Conv2dOptions(config.channels, config.dim, config.patch_size)
                              .stride(config.patch_size)));
    return;
  }
  // P = 2^L: L halvings of the image, widths doubling up to D (ViT_C: 48, 96, 192, 384 for
  // ViT-S/16), so each layer's cost stays about the same.
  int64_t halvings = 0;
  while ((int64_t{1} << halvings) < config.patch_size) ++halvings;
  conv_stem = register_module("conv_stem", torch::nn::Sequential());
  int64_t in_channels = config.channels;
  for (int64_t layer = 1; layer <= halvings; ++layer) {
    const int64_t out_channels = std::max<int64_t>(1, config.dim >> (halvings - layer));
    conv_stem->push_back(torch::nn::Conv2d(
        torch::nn::Conv2dOptions(in_channels, out_channels, 3).stride(2).padding(1)));
    conv_stem->push_back(torch::nn::ReLU());
    in_channels = out_channels;
  }
  projection = register_module(
      "projection", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, config.dim, 1)));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == channels_ && images.size(2) == image_size_ &&
                  images.size(3) == image_size_,
              "PatchEmbed: expected images [B, ", channels_, ", ", image_size_, ", ", image_size_,
              "], got ", images.sizes());
  const torch::Tensor features =
      conv_stem && conv_stem->size() > 0 ? conv_stem->forward(images) : images;
  // Contiguous [B,N,D]: the residual stream keeps the layout of its first tensor, and a
  // transposed one would make every LayerNorm and reshape after it copy.
  return projection->forward(features).flatten(2).transpose(1, 2).contiguous();
}

}  // namespace moevit
