// A tiny ViT config for tests that need a model but not a particular one (header-only, so both
// the core and the app test binaries use it).
#pragma once

#include "vit/model_config.h"

namespace moevit::testing {

// 8×8 grayscale, patch 4 (4 tokens), dim 8, 2 blocks of 2 heads, MLP 16, 4 experts, k = 1.
inline ModelConfig tiny_model_config(RouterKind router) {
  ModelConfig config;
  config.image_size = 8;
  config.patch_size = 4;
  config.channels = 1;
  config.dim = 8;
  config.depth = 2;
  config.heads = 2;
  config.mlp_dim = 16;
  config.num_classes = 3;
  config.moe.router = router;
  config.moe.num_experts = 4;
  config.moe.experts_per_token = 1;
  return config;
}

}  // namespace moevit::testing
