// Position embeddings for another grid: a linear ramp over the grid stays that ramp (bilinear
// interpolation is exact on a linear function), the class token's position is kept bit for bit.
#include "app/pretrained/position_resample.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

namespace moevit {
namespace {

constexpr int64_t kDim = 3;

// The ramp 1 + 2·row + 3·column + 0.5·channel, at (possibly fractional) grid coordinates.
double ramp(double row, double column, int64_t channel) {
  return 1 + 2 * row + 3 * column + 0.5 * channel;
}

// [1, 1 + grid², kDim]: the class token's position (-7, -8, -9), then the ramp row by row.
torch::Tensor ramp_positions(int64_t grid) {
  torch::Tensor positions = torch::empty({1, 1 + grid * grid, kDim});
  for (int64_t channel = 0; channel < kDim; ++channel) positions[0][0][channel] = -7.0 - channel;
  for (int64_t row = 0; row < grid; ++row)
    for (int64_t column = 0; column < grid; ++column)
      for (int64_t channel = 0; channel < kDim; ++channel)
        positions[0][1 + row * grid + column][channel] = ramp(row, column, channel);
  return positions;
}

// Where new cell `index` of `new_grid` samples a grid of `grid` cells: half-pixel centres
// (align_corners=false), clamped to the grid where they fall outside it (upsampling's edges).
double source_coordinate(int64_t index, int64_t grid, int64_t new_grid) {
  const double coordinate = (index + 0.5) * grid / new_grid - 0.5;
  return std::clamp(coordinate, 0.0, double(grid - 1));
}

void expect_ramp(int64_t grid, int64_t new_grid) {
  const torch::Tensor resized = resample_position_embedding(ramp_positions(grid), 1, new_grid);
  ASSERT_EQ(resized.sizes(), (std::vector<int64_t>{1, 1 + new_grid * new_grid, kDim}));
  EXPECT_TRUE(torch::equal(resized.narrow(1, 0, 1), ramp_positions(grid).narrow(1, 0, 1)));
  for (int64_t row = 0; row < new_grid; ++row)
    for (int64_t column = 0; column < new_grid; ++column)
      for (int64_t channel = 0; channel < kDim; ++channel)
        EXPECT_NEAR(resized[0][1 + row * new_grid + column][channel].item<double>(),
                    ramp(source_coordinate(row, grid, new_grid),
                         source_coordinate(column, grid, new_grid), channel),
                    1e-5)
            << grid << " → " << new_grid << " at " << row << "," << column << "," << channel;
}

TEST(PositionResample, ALinearRampStaysTheRampUpAndDown) {
  expect_ramp(/*grid=*/4, /*new_grid=*/8);
  expect_ramp(/*grid=*/4, /*new_grid=*/6);
  expect_ramp(/*grid=*/6, /*new_grid=*/3);  // no clamping downward: the ramp exactly
  expect_ramp(/*grid=*/4, /*new_grid=*/4);
}

TEST(PositionResample, UpsamplingsInteriorStepsEvenly) {
  // 2 → 4: the two inner new columns sample columns 0.25 and 0.75, half a column apart: 1.5.
  const torch::Tensor resized = resample_position_embedding(ramp_positions(2), 1, 4);
  const double inner_left = resized[0][1 + 1 * 4 + 1][0].item<double>();
  const double inner_right = resized[0][1 + 1 * 4 + 2][0].item<double>();
  EXPECT_NEAR(inner_right - inner_left, 3 * 0.5, 1e-6);
}

TEST(PositionResample, WithoutAClassTokenAndRefusals) {
  const torch::Tensor grid_only = ramp_positions(4).narrow(1, 1, 16);
  EXPECT_EQ(resample_position_embedding(grid_only, 0, 2).size(1), 4);
  EXPECT_THROW(resample_position_embedding(ramp_positions(4).narrow(1, 0, 16), 1, 2),
               std::invalid_argument);  // 15 grid positions
  EXPECT_THROW(resample_position_embedding(ramp_positions(4), 1, 0), std::invalid_argument);
}

}  // namespace
}  // namespace moevit
