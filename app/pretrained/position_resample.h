// Position embeddings for another patch grid, as big_vision's resample_posemb
// (big_vision/models/vit.py): the class token's position kept as it is, the grid's positions
// resized bilinearly. Fine-tuning at another image size starts from these (`train --init`).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace moevit {

// positions [1, T + G², D] (T = class_tokens, 0 or 1, first; then a G×G grid row by row) →
// [1, T + new_grid², D], in positions' dtype. Bilinear with half-pixel centres
// (align_corners=false), as jax.image.resize's "bilinear" upsamples; shrinking is not
// antialiased, where jax's resize is. Throws std::invalid_argument for a grid that is not square
// or a new_grid < 1.
torch::Tensor resample_position_embedding(const torch::Tensor& positions, int64_t class_tokens,
                                          int64_t new_grid);

}  // namespace moevit
