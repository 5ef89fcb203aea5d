#include "app/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <utility>

#include "app/distributed/distributed.h"
#include "app/run/checkpoint.h"
#include "app/run/config_diff.h"
#include "app/train/optimizer_setup.h"

namespace moevit {

namespace {

// The model on the runtime's device, its optimizer and, for moe.balance_scope: global, the
// counting of top-1 choices over the step.
void build_model(Trainer& trainer) {
  // Seeded before the model exists, so initial weights (and the routing noise after them)
  // depend on run.seed alone.
  torch::manual_seed(static_cast<uint64_t>(trainer.config.run.seed));
  trainer.model = VisionTransformer(trainer.config.model);
  trainer.model->to(trainer.runtime.device);
  trainer.optimizer = make_adamw(*trainer.model, trainer.config.optim);
  if (trainer.config.model.moe.balance_scope == BalanceScope::kGlobal)
    trainer.balance = std::make_unique<GlobalBalance>(trainer.model->moe_layers(), trainer.world);
}

// Steps per epoch, epochs, and the learning-rate schedule over the run's steps.
void plan_schedule(Trainer& trainer, int64_t train_batches_per_epoch) {
  const OptimConfig& optim = trainer.config.optim;
  // A step takes optim.accum_steps loader batches; the epoch's last step may take fewer.
  trainer.steps_per_epoch =
      std::max<int64_t>(1, (train_batches_per_epoch + optim.accum_steps - 1) / optim.accum_steps);
  trainer.total_epochs = optim.steps > 0
                             ? (optim.steps + trainer.steps_per_epoch - 1) / trainer.steps_per_epoch
                             : optim.epochs;
  trainer.schedule.peak_lr = optim.lr;
  trainer.schedule.min_lr = optim.min_lr;
  trainer.schedule.total_steps =
      optim.steps > 0 ? optim.steps : trainer.total_epochs * trainer.steps_per_epoch;
  trainer.schedule.warmup_steps =
      optim.warmup_steps > 0
          ? optim.warmup_steps
          : static_cast<int64_t>(std::llround(optim.warmup_epochs * trainer.steps_per_epoch));
}

// Refuses a checkpoint of other data (its class names) or, unless `allow_config_change`, of
// another config (app/run/config_diff.h), before any model is built from the run's config.
void check_resumable(const Trainer& trainer, const CheckpointState& state,
                     const std::string& resume_path, bool allow_config_change) {
  if (state.class_names != trainer.class_names)
    throw std::invalid_argument(resume_path +
                                ": its class names differ from the data's; resume with the "
                                "data it was trained on");
  if (!allow_config_change)
    check_resume_config(parse_config(state.config_yaml, resume_path, {}), trainer.config,
                        resume_path);
}

// Weights, optimizer state, moving average, position and random stream from a checkpoint.
void resume(Trainer& trainer, CheckpointReader& checkpoint, const CheckpointState& state) {
  checkpoint.load_weights(*trainer.model, trainer.optimizer.get());
  if (trainer.config.optim.ema_decay > 0) {
    // A run that turns the average on at resume starts it from the resumed weights.
    trainer.ema = std::make_unique<ModelEma>(*trainer.model, trainer.config.optim.ema_decay);
    if (checkpoint.has_averaged_weights()) checkpoint.load_averaged_weights(trainer.ema->model());
  }
  trainer.epoch = state.epoch;
  trainer.step = state.step;
  trainer.batches_into_epoch = state.batches_into_epoch;
  trainer.best_top1 = state.best_top1;
  trainer.initialized_from = state.initialized_from;
  if (state.rng_state.defined()) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(state.rng_state);
  }
}

// Every rank starts from rank 0's weights; rank 0 keeps the one-process random stream, the
// others draw their own routing noise.
void join_world(Trainer& trainer) {
  World& world = *trainer.world;
  std::vector<torch::Tensor> state = trainer.model->parameters();
  for (const torch::Tensor& buffer : trainer.model->buffers()) state.push_back(buffer);
  world.broadcast(state, /*root=*/0);
  if (world.rank() > 0)
    torch::manual_seed(static_cast<uint64_t>(trainer.config.run.seed) + 7919 * world.rank() +
                       static_cast<uint64_t>(trainer.step));
}

}  // namespace

std::string resolve_resume_path(const std::string& resume) {
  return std::filesystem::is_directory(resume) ? resume + "/last.pt" : resume;
}

Trainer make_trainer(Config config, const Runtime& runtime, std::vector<std::string> class_names,
                     int64_t train_batches_per_epoch, const std::string& resume_path, World* world,
                     bool allow_config_change) {
  Trainer trainer;
  trainer.world = world;
  trainer.config = std::move(config);
  trainer.runtime = runtime;
  trainer.class_names = std::move(class_names);
  trainer.output_dir = trainer.config.run.output_dir;
  // Opened once: LibTorch reads the whole archive, state and weights alike. A pointer, not a
  // std::optional: clang rejects optional<CheckpointReader> (its InputArchive member's copy
  // constructor takes a non-const reference).
  std::unique_ptr<CheckpointReader> checkpoint;
  CheckpointState state;
  if (!resume_path.empty()) {
    checkpoint = std::make_unique<CheckpointReader>(resume_path);
    state = checkpoint->state();
    check_resumable(trainer, state, resume_path, allow_config_change);
  }
  build_model(trainer);
  plan_schedule(trainer, train_batches_per_epoch);
  if (checkpoint) resume(trainer, *checkpoint, state);
  if (world && world->size() > 1) join_world(trainer);
  // After the broadcast, so every rank's average starts from the same weights.
  if (!trainer.ema && trainer.config.optim.ema_decay > 0)
    trainer.ema = std::make_unique<ModelEma>(*trainer.model, trainer.config.optim.ema_decay);
  return trainer;
}

}  // namespace moevit
