// Mixup (Zhang et al. 2018, arXiv 1710.09412) and CutMix (Yun et al. 2019, arXiv 1905.04899) on
// a training batch, with soft targets, as timm's Mixup in its per-batch mode: each image is
// mixed with the batch's mirror (image i with image B-1-i), one lambda per batch drawn from
// Beta(alpha, alpha); CutMix pastes one box whose area is corrected back into lambda; label
// smoothing is folded into the targets (timm's mixup_target), which the loss then reads as
// SoftTargetCrossEntropy.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <random>

namespace moevit {

struct MixupOptions {
  double mixup_alpha = 0;           // data.mixup: Beta(alpha, alpha) for lambda; 0 = off
  double cutmix_alpha = 0;          // data.cutmix: the same for CutMix; 0 = off
  double probability = 1.0;         // data.mixup_prob: a batch is mixed with this probability
  double switch_probability = 0.5;  // data.mixup_switch_prob: CutMix instead of Mixup when both
  double label_smoothing = 0;       // optim.label_smoothing, folded into the targets
  int64_t num_classes = 0;

  bool enabled() const { return mixup_alpha > 0 || cutmix_alpha > 0; }
};

// Rows [top, top + height) and columns [left, left + width) of the image.
struct CutBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// timm's rand_bbox: sides of sqrt(1 - lambda) times the image's, centred on a uniform pixel,
// clipped to the image.
CutBox cutmix_box(int64_t image_height, int64_t image_width, double lambda,
                  std::mt19937& generator);

// One-hot rows of `labels` [B] with smoothing s: 1 - s + s / K on the label, s / K elsewhere.
torch::Tensor smoothed_one_hot(const torch::Tensor& labels, int64_t num_classes, double smoothing);

struct MixedBatch {
  torch::Tensor images;   // [B,C,H,W]
  torch::Tensor targets;  // [B,K] float, each row summing to 1
  double lambda = 1;      // the share of each image's own label (after CutMix's correction)
  bool cutmix = false;
};

// The batch mixed per `options` with draws from `generator` (the same generator state gives
// the same mix). Unmixed batches (probability, or lambda 1) still get their smoothed targets.
MixedBatch mix_batch(const torch::Tensor& images, const torch::Tensor& labels,
                     const MixupOptions& options, std::mt19937& generator);

// mean over rows of sum_k -targets[k] · log_softmax(logits)[k] (timm's SoftTargetCrossEntropy).
torch::Tensor soft_target_cross_entropy(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace moevit
