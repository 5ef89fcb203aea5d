// timm's VisionTransformer state dict (timm/models/vision_transformer.py, as the Hub's
// timm/vit_* repositories ship it in model.safetensors) in moevit's names, and back.
//
// The two models compute the same function when moevit's config is a dense ViT with the patch
// stem, standard attention and class-token pooling, so the mapping is a renaming, tensor for
// tensor, with no reshaping:
//   timm                               moevit (VisionTransformer's register_* names)
//   cls_token            [1,1,D]       class_token
//   pos_embed            [1,1+N,D]     position_embedding     (class token first, N = (S/P)²)
//   patch_embed.proj.*   [D,C,P,P],[D] patch_embed.projection.*
//   blocks.i.norm1.*     [D]           blocks.i.norm1.*       (LayerNorm eps 1e-6 on both sides)
//   blocks.i.attn.qkv.*  [3D,D],[3D]   blocks.i.attention.qkv.*
//   blocks.i.attn.proj.* [D,D],[D]     blocks.i.attention.projection.*
//   blocks.i.norm2.*     [D]           blocks.i.norm2.*
//   blocks.i.mlp.fc1.*   [H,D],[H]     blocks.i.mlp.fc1.*     (then exact GELU on both sides)
//   blocks.i.mlp.fc2.*   [D,H],[D]     blocks.i.mlp.fc2.*
//   norm.*               [D]           norm.*
//   head.*               [K,D],[K]     head.*                 (K classes)
// Both fuse q, k and v in one Linear whose 3D outputs are read as [3, heads, head_dim] (timm
// Attention.forward's reshape(B, N, 3, heads, head_dim); vit/attention.cpp does the same), so
// qkv is copied whole. Both pool the class token after the final norm.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/pretrained/safetensors.h"
#include "vit/model_config.h"

namespace moevit {

struct TimmLayoutEntry {
  std::string timm_name;    // e.g. "blocks.0.attn.qkv.weight"
  std::string moevit_name;  // e.g. "blocks.0.attention.qkv.weight"
  std::vector<int64_t> shape;
};

// Throws std::invalid_argument naming the config key of whatever timm's ViT layout cannot
// express: model.stem conv, model.attention lsa, MoE blocks (moe.router other than dense) and
// model.pooling gap (moevit normalises every token, then averages; timm's avg pooling averages,
// then applies fc_norm: a different function, so it is refused rather than approximated).
void check_timm_expressible(const ModelConfig& config);

// Every tensor of the layout, in state-dict order, for a config check_timm_expressible accepts.
std::vector<TimmLayoutEntry> timm_vit_layout(const ModelConfig& config);

// The architecture a timm ViT state dict fixes: dim and channels and patch size from
// patch_embed.proj.weight, image size from pos_embed's 1 + (S/P)² tokens, depth from the
// blocks.i indices, mlp_dim from blocks.0.mlp.fc1.weight, num_classes from head.weight; class-
// token pooling, patch stem, standard attention, dense blocks. `heads` is in no shape, so it is
// given. The other tensors are checked by timm_to_moevit. Errors (std::runtime_error for the
// tensors, std::invalid_argument for the config they imply) start with `source`, the file.
ModelConfig infer_timm_vit_config(const NamedTensors& timm_tensors, int64_t heads,
                                  const std::string& source);

// Renames every tensor of the layout of `config`, after checking that each is present, of the
// layout's shape and floating point, and that nothing else is there: a file is taken whole or
// refused (std::runtime_error "SOURCE: tensor "NAME": ..."), never half. The tensors are shared,
// not copied, and keep their dtype.
NamedTensors timm_to_moevit(const NamedTensors& timm_tensors, const ModelConfig& config,
                            const std::string& source);
NamedTensors moevit_to_timm(const NamedTensors& moevit_tensors, const ModelConfig& config,
                            const std::string& source);

}  // namespace moevit
