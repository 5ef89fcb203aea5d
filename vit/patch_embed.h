#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace moevit {

// Image → patch tokens with one convolution, kernel = stride = patch (ViT, timm PatchEmbed).
class PatchEmbedImpl : public torch::nn::Module {
 public:
  PatchEmbedImpl(int64_t image_size, int64_t patch_size, int64_t channels, int64_t dim);

  // images [B,C,H,W] → tokens [B, N = (H/P)·(W/P), D]. Shape errors name actual and expected.
  torch::Tensor forward(const torch::Tensor& images);

  torch::nn::Conv2d projection{nullptr};

 private:
  int64_t image_size_, channels_;
};
TORCH_MODULE(PatchEmbed);

}  // namespace moevit
