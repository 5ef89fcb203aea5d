#include "app/pretrained/position_resample.h"

#include <torch/nn/functional/upsampling.h>

#include <cmath>
#include <stdexcept>
#include <string>

namespace moevit {

torch::Tensor resample_position_embedding(const torch::Tensor& positions, int64_t class_tokens,
                                          int64_t new_grid) {
  if (positions.dim() != 3 || positions.size(0) != 1 || positions.size(1) < class_tokens)
    throw std::invalid_argument("position_embedding: expected [1, tokens, dim], got " +
                                c10::str(positions.sizes()));
  const int64_t grid_tokens = positions.size(1) - class_tokens;
  const int64_t grid = static_cast<int64_t>(std::llround(std::sqrt(double(grid_tokens))));
  if (grid * grid != grid_tokens || grid < 1)
    throw std::invalid_argument("position_embedding: expected " + std::to_string(class_tokens) +
                                " class token(s) and a square grid, got " +
                                std::to_string(grid_tokens) + " grid positions");
  if (new_grid < 1)
    throw std::invalid_argument("position_embedding: expected a new grid >= 1, got " +
                                std::to_string(new_grid));
  const int64_t dim = positions.size(2);
  const torch::Tensor class_positions = positions.narrow(1, 0, class_tokens);
  // [1, G², D] → [1, D, G, G]: interpolate resizes the last two axes.
  const torch::Tensor grid_positions = positions.narrow(1, class_tokens, grid_tokens)
                                           .reshape({1, grid, grid, dim})
                                           .permute({0, 3, 1, 2})
                                           .to(torch::kFloat32);
  namespace F = torch::nn::functional;
  const torch::Tensor resized =
      F::interpolate(grid_positions, F::InterpolateFuncOptions()
                                         .size(std::vector<int64_t>{new_grid, new_grid})
                                         .mode(torch::kBilinear)
                                         .align_corners(false));
  const torch::Tensor flattened =
      resized.permute({0, 2, 3, 1}).reshape({1, new_grid * new_grid, dim}).to(positions.dtype());
  return torch::cat({class_positions, flattened}, /*dim=*/1);
}

}  // namespace moevit
