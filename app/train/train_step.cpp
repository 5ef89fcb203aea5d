#include "app/train/train_step.h"

#include <torch/nn/functional/loss.h>

#include <cmath>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>

#include "app/distributed/distributed.h"
#include "app/train/global_balance.h"
#include "app/train/nonfinite_steps.h"
#include "app/train/optimizer_setup.h"
#include "app/train/rank_agreement.h"
#include "datasets/loader.h"
#include "datasets/seeded_generator.h"

namespace moevit {

StepContext step_context(Trainer& trainer) {
  StepContext context;
  context.parameters = trainer.model->parameters();
  context.moe_layers = trainer.model->moe_layers();
  context.cross_entropy.label_smoothing(trainer.config.optim.label_smoothing);
  const DataConfig& data = trainer.config.data;
  context.mixup = {data.mixup,
                   data.cutmix,
                   data.mixup_prob,
                   data.mixup_switch_prob,
                   trainer.config.optim.label_smoothing,
                   trainer.config.model.num_classes};
  context.world_size = trainer.world ? trainer.world->size() : 1;
  context.rank = trainer.world ? trainer.world->rank() : 0;
  return context;
}

namespace {

Batch next_batch(ImageLoader& loader) {
  std::optional<Batch> batch = loader.next_batch();
  if (!batch) throw std::logic_error("the loader ended before its batches_per_epoch");
  return std::move(*batch);
}

// A micro-batch's forward: its task loss, its summed aux loss, and the images the model saw.
struct MicroBatchForward {
  torch::Tensor task, aux, inputs;
};

// The task loss of a micro-batch: cross-entropy on its labels, or, with Mixup/CutMix on, the
// soft-target cross-entropy of the mixed batch, mixed by a generator seeded by (run seed, step,
// micro-batch of this rank), so a resumed run mixes as the uninterrupted one did.
MicroBatchForward forward_micro_batch(Trainer& trainer, const StepContext& context,
                                      const Batch& batch, int64_t micro, int64_t micro_batches) {
  const torch::Tensor images = batch.images.to(trainer.runtime.device);
  const torch::Tensor labels = batch.labels.to(trainer.runtime.device);
  AutocastScope autocast(trainer.runtime);
  if (!context.mixup.enabled()) {
    const VitOutput output = trainer.model->forward(images);
    return {torch::nn::functional::cross_entropy(output.logits.to(torch::kFloat), labels,
                                                 context.cross_entropy),
            output.aux.total, images};
  }
  std::mt19937 generator =
      seeded_generator(static_cast<uint64_t>(trainer.config.run.seed), RandomPurpose::kMixup,
                       static_cast<uint64_t>(trainer.step),
                       static_cast<uint64_t>(context.rank * micro_batches + micro));
  const MixedBatch mixed = mix_batch(images, labels, context.mixup, generator);
  const VitOutput output = trainer.model->forward(mixed.images);
  return {soft_target_cross_entropy(output.logits.to(torch::kFloat), mixed.targets),
          output.aux.total, mixed.images};
}

// What a micro-batch gave: its loss and aux loss, unscaled, and, when the loss is not finite
// (no backward then), why.
struct MicroBatchLoss {
  double loss = 0, aux = 0;
  std::string nonfinite;
};

// One micro-batch: forward under autocast, the loss (task + weighted aux, in float32) and its
// NaN/Inf check, then backward scaled by 1 / micro_batches, so the step's gradient is that of
// the mean of its micro-batches' losses.
MicroBatchLoss forward_backward(Trainer& trainer, const StepContext& context, const Batch& batch,
                                int64_t micro, int64_t micro_batches) {
  const MicroBatchForward forward =
      forward_micro_batch(trainer, context, batch, micro, micro_batches);
  const torch::Tensor loss = forward.task + trainer.config.optim.aux_loss_weight * forward.aux;
  MicroBatchLoss result{loss.item<double>(), forward.aux.item<double>(), ""};
  if (!std::isfinite(result.loss)) {
    result.nonfinite =
        explain_nonfinite_loss(result.loss, *trainer.model, forward.inputs, trainer.runtime);
    return result;
  }
  (micro_batches > 1 ? loss / static_cast<double>(micro_batches) : loss).backward();
  return result;
}

// A step every rank skips (`finding` says why): see skip_nonfinite_step.
StepResult skip_step(Trainer& trainer, StepResult result, const std::string& finding,
                     const TrainHooks& hooks) {
  const std::string notice = skip_nonfinite_step(trainer, finding);
  if (hooks.on_notice) hooks.on_notice(notice);
  result.skipped = true;
  return result;
}

}  // namespace

StepResult train_step(Trainer& trainer, const StepContext& context, ImageLoader& loader,
                      int64_t micro_batches, const TrainHooks& hooks) {
  const OptimConfig& optim = trainer.config.optim;
  StepResult result;
  result.batches = micro_batches;
  result.lr = trainer.schedule.at(trainer.step);
  set_learning_rate(*trainer.optimizer, result.lr);
  clear_gradients(*trainer.optimizer);
  if (trainer.balance) trainer.balance->start_step();
  std::string nonfinite;  // this rank's first non-finite loss, explained
  for (int64_t micro = 0; micro < micro_batches; ++micro) {
    const Batch batch = next_batch(loader);
    const MicroBatchLoss loss = forward_backward(trainer, context, batch, micro, micro_batches);
    if (nonfinite.empty()) nonfinite = loss.nonfinite;
    result.loss += loss.loss / micro_batches;
    result.aux += loss.aux / micro_batches;
    result.images += batch.labels.size(0) * context.world_size;  // the ranks' batches are equal
  }
  if (any_rank(!nonfinite.empty(), trainer.world))
    return skip_step(trainer, std::move(result),
                     nonfinite.empty() ? "a loss is not finite on another rank" : nonfinite, hooks);
  if (trainer.world) trainer.world->average_gradients(context.parameters);  // before clipping
  // Averaged over the ranks, the gradients and so this check are the same on every rank.
  const double gradient_norm = clip_gradients(context.parameters, optim.grad_clip);
  if (!std::isfinite(gradient_norm))
    return skip_step(trainer, std::move(result),
                     explain_nonfinite_gradients(result.loss, gradient_norm), hooks);
  trainer.optimizer->step();
  update_expert_biases(context.moe_layers, trainer.world);  // before the average copies them
  ++trainer.step;
  if (trainer.ema) trainer.ema->update(*trainer.model, trainer.step);
  ++trainer.batches_into_epoch;
  return result;
}

}  // namespace moevit
