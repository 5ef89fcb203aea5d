#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "vit/model_config.h"

namespace moevit {

// Image → patch tokens, one token per P×P patch, by either stem (model.stem):
//   patch: one convolution, kernel = stride = P (ViT, timm PatchEmbed);
//   conv:  log2(P) 3×3 stride-2 convolutions with ReLU, widths D/2^(L-1) … D, then a 1×1
//          convolution to D (Xiao et al. 2021, "Early Convolutions Help Transformers See
//          Better", §3: the ViT_C stem). Overlapping kernels give the tokens some locality, which
//          a small data set cannot teach a plain ViT in a few epochs. P must be a power of two.
class PatchEmbedImpl : public torch::nn::Module {
 public:
  explicit PatchEmbedImpl(const ModelConfig& config);

  // images [B,C,H,W] → tokens [B, N = (H/P)·(W/P), D]. Shape errors name actual and expected.
  torch::Tensor forward(const torch::Tensor& images);

  torch::nn::Conv2d projection{nullptr};     // patch: the P×P convolution; conv: the final 1×1
  torch::nn::Sequential conv_stem{nullptr};  // conv: the stride-2 convolutions (else empty)

 private:
  int64_t image_size_, channels_;
};
TORCH_MODULE(PatchEmbed);

}  // namespace moevit
