#include "vit/patch_embed.h"

namespace moevit {

PatchEmbedImpl::PatchEmbedImpl(int64_t image_size, int64_t patch_size, int64_t channels,
                               int64_t dim)
    : image_size_(image_size), channels_(channels) {
  projection = register_module(
      "projection",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, dim, patch_size).stride(patch_size)));
}

torch::Tensor PatchEmbedImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == channels_ && images.size(2) == image_size_ &&
                  images.size(3) == image_size_,
              "PatchEmbed: expected images [B, ", channels_, ", ", image_size_, ", ", image_size_,
              "], got ", images.sizes());
  return projection->forward(images).flatten(2).transpose(1, 2);
}

}  // namespace moevit
