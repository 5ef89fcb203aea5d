// One optimizer step of a training run (the loop around it is app/train/training.cpp): this
// step's learning rate, each micro-batch's forward and backward (gradient accumulation,
// Mixup/CutMix), the NaN/Inf checks (app/train/nonfinite_steps.h), the gradients averaged over
// the ranks and clipped, AdamW, the balancing biases, the moving average and the position.
#pragma once

#include <torch/nn/options/loss.h>
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "app/train/mixup.h"
#include "app/train/training.h"

namespace moevit {

class ImageLoader;

// What every step of a run reuses.
struct StepContext {
  std::vector<torch::Tensor> parameters;  // all-reduced and clipped together
  std::vector<MoeLayer> moe_layers;       // their balancing biases move after each step
  torch::nn::functional::CrossEntropyFuncOptions cross_entropy;  // with optim.label_smoothing
  MixupOptions mixup;      // data.mixup / data.cutmix; when on, the smoothing is in its targets
  int64_t world_size = 1;  // ranks, each with an equal share of the global batch
  int64_t rank = 0;
};

// What the steps of `trainer`'s run share: its parameters, MoE layers, loss and mixing options.
StepContext step_context(Trainer& trainer);

// What one optimizer step did.
struct StepResult {
  double loss = 0;      // mean over its micro-batches of task loss + weighted aux loss
  double aux = 0;       // mean over its micro-batches of the aux loss alone
  int64_t images = 0;   // trained on, over all ranks
  int64_t batches = 0;  // loader batches taken (micro-batches)
  double lr = 0;
  bool skipped = false;  // a non-finite loss or gradients: no update (optim.skip_nonfinite)
};

// One optimizer step over `micro_batches` loader batches: this step's learning rate, each
// micro-batch's forward and backward (gradient accumulation), the gradients averaged over the
// ranks before clipping, AdamW, the balancing biases moved, the position advanced and the
// moving average updated. A non-finite loss on any rank, or non-finite gradients, skip the
// update on every rank (optim.skip_nonfinite; hooks.on_notice says so), or stop the run.
StepResult train_step(Trainer& trainer, const StepContext& context, ImageLoader& loader,
                      int64_t micro_batches, const TrainHooks& hooks);

}  // namespace moevit
