// Reads a MoE layer's DispatchPlan back onto each image's patch grid, for heatmaps and the
// expert-by-class matrix. Only reads the plan: nothing re-routes.
//
// The plan's token axis, flattened over groups, is image-major whatever the grouping: token n
// of image b is row b·T + n of [G·S], T = tokens per image (patches, plus the class token
// first when the model pools by class token; maps skip it).
// Axes: B images, T tokens per image, P patches per image, E experts, C slots per expert.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "app/figures/heatmap_render.h"

namespace moevit {

struct DispatchPlan;

struct PatchExperts {
  bool soft = false;
  int64_t num_experts = 0;  // E
  // Token choice and Expert Choice: the expert that processed the patch with the largest
  // combine weight (the first choice when none did), its gate, and whether no expert processed
  // it (over capacity, or picked by no expert). Soft: the expert whose slots give the patch the
  // largest combine weight (summed over its slots), that weight, and dropped all false.
  at::Tensor expert;   // [B,P] int64
  at::Tensor weight;   // [B,P] float
  at::Tensor dropped;  // [B,P] bool
  // Plans with K > 1 (top-k with k ≥ 2, top-p, Expert Choice): how many experts processed each
  // patch. Undefined otherwise.
  at::Tensor experts_per_patch;  // [B,P] int64
  // Soft only: dispatch weight of each patch into each expert, summed over its slots.
  at::Tensor dispatch;  // [B,E,P] float; undefined for token choice

  int64_t images() const { return expert.size(0); }
  int64_t patches() const { return expert.size(1); }
};

// plan: one MoE layer's plan for a batch of `batch_size` images; `leading_tokens`: tokens
// before the patches in each image (1 with a class token, else 0). Results are on the CPU.
PatchExperts patch_experts(const DispatchPlan& plan, int64_t batch_size, int64_t leading_tokens);

// Image `image` of `experts` as the renderer takes it (square grid of patches_per_side²).
ExpertAssignment image_assignment(const PatchExperts& experts, int64_t image,
                                  int64_t patches_per_side);

// Soft: image `image`'s dispatch weight maps, [E][P].
std::vector<std::vector<float>> image_dispatch_maps(const PatchExperts& experts, int64_t image);

}  // namespace moevit
