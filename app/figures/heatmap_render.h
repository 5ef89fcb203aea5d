// Heatmap figures: which expert each patch of an image went to, drawn over the image. Pure
// drawing on plain arrays (no model, no plan), so a test can feed a constructed assignment.
//   expert map      the image, each patch tinted by its expert's colour, opacity by its weight;
//                   dropped patches greyed and hatched; a grid; a legend of expert shares
//   dispatch panels one panel per expert (Soft-MoE): its dispatch weight per patch as a colour
//                   map, one shared scale and colour bar
//   summary         the image, its top predictions, and each layer's expert map
// P = patches_per_side², patches in row-major order.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace moevit {

// One image's routing in one MoE layer, per patch.
struct ExpertAssignment {
  int64_t patches_per_side = 0;  // e.g. 7 for 28×28 images of 4×4 patches
  int64_t num_experts = 0;       // E, for the legend
  std::vector<int64_t> expert;   // [P] first choice (token choice) or dominant expert (soft)
  std::vector<float> weight;     // [P] in [0, 1]: its gate, or its summed combine weight
  std::vector<uint8_t> dropped;  // [P] 1 where no expert processed the patch; empty = none
  // [P] experts that processed each patch (k ≥ 2, top-p, Expert Choice), written in the patch's
  // corner; empty = not drawn (one expert per patch).
  std::vector<int64_t> experts_per_patch;
};

// A rendered figure and, for tests and composition, where its patch grids lie in it.
struct HeatmapFigure {
  cv::Mat image;               // 8-bit BGR
  std::vector<cv::Rect> maps;  // one per patch grid (expert map: 1; dispatch panels: E)
};

// Side of one patch on screen: at least 16 px, aiming at a ~224 px grid, and a whole multiple
// of the patch's own pixels so that nearest-neighbour upscaling keeps patch borders exact
// (28×28, patch 4 → 32 px; 224×224, patch 16 → 16 px).
int heatmap_patch_pixels(int64_t patches_per_side, int64_t patch_size);

// picture: the model's input as 8-bit BGR (see model_input_picture), any size (it is scaled
// to patches_per_side · patch_pixels) and washed towards white so tints keep their hue. Tint
// opacity: 0.4 + 0.5 · weight. Dropped patches: faded to grey, hatched in their expert's colour.
// With experts_per_patch, each patch shows its count in its top-left corner.
// `title_parts` are joined by middle dots above the map.
HeatmapFigure render_expert_map(const cv::Mat& picture, const ExpertAssignment& assignment,
                                int patch_pixels, const std::vector<std::string>& title_parts);

// expert_weights [E][P]: per expert and patch, e.g. Soft-MoE dispatch weight summed over the
// expert's slots. Every panel shares one colour scale, from the smallest to the largest value
// over all experts, so panels compare; the colour bar is labelled with both ends.
HeatmapFigure render_dispatch_panels(const cv::Mat& picture, int64_t patches_per_side,
                                     const std::vector<std::vector<float>>& expert_weights,
                                     int patch_pixels, const std::vector<std::string>& title_parts);

// The summary sheet of one image: its name, the picture, its top predictions (label,
// probability) and the layer figures side by side (three to a row).
cv::Mat render_summary(const cv::Mat& picture, int patch_pixels, int64_t patches_per_side,
                       const std::string& name,
                       const std::vector<std::pair<std::string, double>>& predictions,
                       const std::vector<cv::Mat>& layer_figures);

}  // namespace moevit
