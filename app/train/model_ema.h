// An exponential moving average of the trained weights (Polyak averaging, as timm's ModelEma
// and TensorFlow's ExponentialMovingAverage keep it): a second model, updated after every
// optimizer step, validated and checkpointed beside the trained one. optim.ema_decay turns it on.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "vit/vision_transformer.h"

namespace moevit {

class ModelEma {
 public:
  // Starts as a copy of `model`'s weights (parameters and buffers), on the same device.
  ModelEma(VisionTransformerImpl& model, double decay);

  // The decay used after step `step` (1-based): min(decay, (1 + step) / (10 + step)), the
  // num_updates warm-up of TensorFlow's ExponentialMovingAverage, so the first averages follow
  // the fast-moving early weights instead of being dominated by the random initialisation.
  static double decay_at(double decay, int64_t step);

  // After optimizer step `step`: averaged ← d·averaged + (1 − d)·trained, d = decay_at(step);
  // buffers are copied.
  void update(VisionTransformerImpl& trained, int64_t step);

  // Replaces the averaged weights by `model`'s (a checkpoint without averaged weights).
  void copy_from(VisionTransformerImpl& model);

  VisionTransformerImpl& model() { return *averaged_; }
  double decay() const { return decay_; }

 private:
  double decay_;
  VisionTransformer averaged_;
  std::vector<torch::Tensor> averaged_parameters_, averaged_buffers_;
};

}  // namespace moevit
