// Which experts each class uses: per MoE layer a class × expert matrix of patch counts, gathered
// over a data set, as shares (rows sum to 1), a CSV and a figure.
// Axes: B images, P patches per image, E experts.
#pragma once

#include <ATen/core/Tensor.h>
#include <opencv2/core.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace moevit {

struct PatchExperts;

struct ExpertByClass {
  int64_t block = 0;  // 0-based block id of the MoE layer
  // Counted by the dominant combine expert (soft) or, for token and Expert Choice, by the
  // expert that processed the patch with the largest gate (the first choice when none did).
  bool soft = false;
  at::Tensor counts;  // [classes, E] int64: patches of class c whose expert is e

  ExpertByClass(int64_t block, bool soft, int64_t num_classes, int64_t num_experts);

  // experts: one batch's patch experts of this layer; labels [B] int64.
  void add(const PatchExperts& experts, const at::Tensor& labels);

  // [classes, E] double: counts divided by the row's total (a class without patches: zeros).
  at::Tensor shares() const;
};

// "class,0,1,…,E-1" then one row per class: its name and its shares.
std::string expert_by_class_csv(const ExpertByClass& layer,
                                const std::vector<std::string>& class_names);

// One matrix per layer, stacked: classes down, experts across, colour by share (0 to the
// layer's largest), the share written in each cell when it fits.
cv::Mat render_expert_by_class(const std::vector<ExpertByClass>& layers,
                               const std::vector<std::string>& class_names);

}  // namespace moevit
