// What the model sees in training: a grid of images, each in one row, first as evaluation shows
// it, then as `draws` training epochs transform it (crop, flip, RandAugment or TrivialAugment,
// colour jitter, random erasing), with the loader's own seeded draws. The PNG a user looks at
// before trusting an augmentation recipe (moevit augment-preview).
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "datasets/image_folder.h"
#include "datasets/transforms.h"

namespace moevit {

struct AugmentGridOptions {
  int64_t images = 6;        // rows
  int64_t draws = 7;         // training views per row, beside the evaluation view
  int64_t tile_pixels = 96;  // each view is enlarged (nearest neighbour) to at least this
  uint64_t seed = 0;         // run.seed: the draws are those of training epochs 0..draws-1
  int64_t max_pixels = 64'000'000;
};

// The indices of the first options.images samples of `folder` in the loader's seeded order of
// training epoch 0 (the first images of the first batch).
std::vector<int64_t> preview_sample_indices(const ImageFolder& folder,
                                            const AugmentGridOptions& options);

// The grid (8-bit BGR) of folder.samples[i] for i in `sample_indices` under `transform`, below
// the one-line `title`.
cv::Mat augment_grid(const ImageFolder& folder, const std::vector<int64_t>& sample_indices,
                     const TransformOptions& transform, const AugmentGridOptions& options,
                     const std::string& title);

}  // namespace moevit
