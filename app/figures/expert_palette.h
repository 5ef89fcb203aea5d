// One colour per expert id, the same in every layer, image and figure of a heatmap run, so a
// reader learns "expert 3 is red" once.
#pragma once

#include <opencv2/core/types.hpp>

#include <cstdint>

namespace moevit {

// Distinct colours before the palette cycles (expert 16 looks like expert 0).
constexpr int64_t kExpertPaletteSize = 16;

// The colour of `expert` (>= 0) in OpenCV's BGR order.
cv::Scalar expert_colour(int64_t expert);

}  // namespace moevit
