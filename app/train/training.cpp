#include "app/train/training.h"

#include <torch/nn/functional/loss.h>
#include <torch/nn/utils/clip_grad.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>

#include "app/distributed/distributed.h"
#include "app/eval/evaluation.h"
#include "app/eval/metrics_log.h"
#include "app/figures/curves.h"
#include "app/run/checkpoint.h"
#include "app/train/optimizer_setup.h"
#include "datasets/loader.h"

namespace moevit {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void save_run_checkpoint(Trainer& trainer, const std::string& name) {
  CheckpointState state;
  state.config_yaml = dump_config(trainer.config);
  state.class_names = trainer.class_names;
  state.epoch = trainer.epoch;
  state.step = trainer.step;
  state.batches_into_epoch = trainer.batches_into_epoch;
  state.best_top1 = trainer.best_top1;
  state.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  save_checkpoint(trainer.output_dir + "/" + name, *trainer.model, trainer.optimizer.get(), state,
                  trainer.ema ? &trainer.ema->model() : nullptr);
}

std::string summary_line(int64_t epoch, int64_t total_epochs, double train_loss,
                         const EvalResult& val, const EvalResult* val_ema, double seconds) {
  char line[512];
  int length = std::snprintf(line, sizeof line,
                             "epoch %lld/%lld  train loss %.4f  val loss %.4f  top1 %.2f%%  "
                             "top5 %.2f%%",
                             (long long)epoch, (long long)total_epochs, train_loss, val.loss,
                             100 * val.top1, 100 * val.top5);
  if (val_ema)
    length += std::snprintf(line + length, sizeof line - length, "  EMA top1 %.2f%%",
                            100 * val_ema->top1);
  length += std::snprintf(line + length, sizeof line - length, "  %.0fs", seconds);
  for (const LayerRoutingStats& layer : val.routing)
    length += std::snprintf(line + length, sizeof line - length,
                            "  | block %lld load %.2f-%.2f drop %.1f%%", (long long)layer.block,
                            layer.stats.load_share_min(), layer.stats.load_share_max(),
                            100 * layer.stats.dropped_fraction);
  return line;
}

}  // namespace

std::string resolve_resume_path(const std::string& resume) {
  return std::filesystem::is_directory(resume) ? resume + "/last.pt" : resume;
}

Trainer make_trainer(Config config, const Runtime& runtime, std::vector<std::string> class_names,
                     int64_t train_batches_per_epoch, const std::string& resume_path,
                     World* world) {
  Trainer trainer;
  trainer.world = world;
  trainer.config = std::move(config);
  trainer.runtime = runtime;
  trainer.class_names = std::move(class_names);
  trainer.output_dir = trainer.config.run.output_dir;
  // Seeded before the model exists, so initial weights (and the routing noise after them)
  // depend on run.seed alone.
  torch::manual_seed(static_cast<uint64_t>(trainer.config.run.seed));
  trainer.model = VisionTransformer(trainer.config.model);
  trainer.model->to(runtime.device);
  trainer.optimizer = make_adamw(*trainer.model, trainer.config.optim);
  if (trainer.config.model.moe.balance_scope == BalanceScope::kGlobal)
    trainer.balance = std::make_unique<GlobalBalance>(trainer.model->moe_layers(), world);

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

  if (!resume_path.empty()) {
    CheckpointReader checkpoint(resume_path);
    const CheckpointState state = checkpoint.state();
    if (state.class_names != trainer.class_names)
      throw std::invalid_argument(resume_path +
                                  ": its class names differ from the data's; resume with the "
                                  "data it was trained on");
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
    if (state.rng_state.defined()) {
      at::Generator generator = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(state.rng_state);
    }
  }
  if (world && world->size() > 1) {
    std::vector<torch::Tensor> state = trainer.model->parameters();
    for (const torch::Tensor& buffer : trainer.model->buffers()) state.push_back(buffer);
    world->broadcast(state, /*root=*/0);
    // Rank 0 keeps the one-process random stream; the others draw their own routing noise.
    if (world->rank() > 0)
      torch::manual_seed(static_cast<uint64_t>(trainer.config.run.seed) + 7919 * world->rank() +
                         static_cast<uint64_t>(trainer.step));
  }
  // After the broadcast, so every rank's average starts from the same weights.
  if (!trainer.ema && trainer.config.optim.ema_decay > 0)
    trainer.ema = std::make_unique<ModelEma>(*trainer.model, trainer.config.optim.ema_decay);
  return trainer;
}

void train(Trainer& trainer, ImageLoader& train_loader, ImageLoader& val_loader,
           const TrainHooks& hooks) {
  std::filesystem::create_directories(trainer.output_dir);
  const Config& config = trainer.config;
  const OptimConfig& optim = config.optim;
  const int64_t total_steps = trainer.schedule.total_steps;
  std::vector<torch::Tensor> parameters = trainer.model->parameters();
  const std::vector<MoeLayer> moe_layers = trainer.model->moe_layers();
  auto cross_entropy_options =
      torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(optim.label_smoothing);

  const int64_t world_size = trainer.world ? trainer.world->size() : 1;
  const bool is_main = !trainer.world || trainer.world->is_main();
  const int64_t accum_steps = optim.accum_steps;
  const int64_t loader_batches = train_loader.batches_per_epoch();
  for (; trainer.epoch < trainer.total_epochs && trainer.step < total_steps; ++trainer.epoch) {
    const auto epoch_start = Clock::now();
    train_loader.start_epoch(trainer.epoch);
    // A mid-epoch checkpoint resumes where it stopped: the epoch's order is seeded, so the
    // same batches come again and are skipped (batches_into_epoch counts steps).
    const int64_t skip = std::min(loader_batches, trainer.batches_into_epoch * accum_steps);
    for (int64_t skipped = 0; skipped < skip; ++skipped) train_loader.next_batch();
    int64_t batches_taken = skip;
    double loss_sum = 0, aux_sum = 0;
    int64_t images = 0, batches = 0;
    trainer.model->train();
    while (trainer.step < total_steps && batches_taken < loader_batches) {
      const double lr = trainer.schedule.at(trainer.step);
      set_learning_rate(*trainer.optimizer, lr);
      clear_gradients(*trainer.optimizer);
      if (trainer.balance) trainer.balance->start_step();
      // Gradient accumulation: the step's loss is the mean of its micro-batches' losses, so
      // every micro-batch's backward is scaled by 1 / micro-batches.
      const int64_t micro_batches = std::min(accum_steps, loader_batches - batches_taken);
      double step_loss = 0, step_aux = 0;
      for (int64_t micro = 0; micro < micro_batches; ++micro, ++batches_taken) {
        std::optional<Batch> batch = train_loader.next_batch();
        if (!batch) throw std::logic_error("the loader ended before its batches_per_epoch");
        const torch::Tensor labels = batch->labels.to(trainer.runtime.device);
        torch::Tensor loss, aux;
        {
          AutocastScope autocast(trainer.runtime);
          const VitOutput output = trainer.model->forward(batch->images.to(trainer.runtime.device));
          aux = output.aux.total;
          loss = torch::nn::functional::cross_entropy(output.logits.to(torch::kFloat), labels,
                                                      cross_entropy_options) +
                 optim.aux_loss_weight * aux;
        }
        const double loss_value = loss.item<double>();
        if (!std::isfinite(loss_value))
          throw std::runtime_error("step " + std::to_string(trainer.step + 1) + ": loss is " +
                                   std::to_string(loss_value) +
                                   "; stopped (lower optim.lr or raise optim.grad_clip); the "
                                   "last good checkpoint is " +
                                   trainer.output_dir + "/last.pt");
        (micro_batches > 1 ? loss / static_cast<double>(micro_batches) : loss).backward();
        step_loss += loss_value / micro_batches;
        step_aux += aux.item<double>() / micro_batches;
        images += labels.size(0) * world_size;  // the ranks' batches are equal
      }
      if (trainer.world) trainer.world->average_gradients(parameters);  // before clipping
      if (optim.grad_clip > 0) torch::nn::utils::clip_grad_norm_(parameters, optim.grad_clip);
      trainer.optimizer->step();
      update_expert_biases(moe_layers, trainer.world);  // before the average copies the biases
      ++trainer.step;
      if (trainer.ema) trainer.ema->update(*trainer.model, trainer.step);
      ++trainer.batches_into_epoch;
      ++batches;
      loss_sum += step_loss;
      aux_sum += step_aux;

      if (hooks.on_progress && (trainer.step % config.run.log_every == 0)) {
        TrainProgress progress{trainer.epoch + 1,
                               trainer.total_epochs,
                               trainer.step,
                               total_steps,
                               loss_sum / batches,
                               lr,
                               images / seconds_since(epoch_start),
                               0};
        progress.eta_seconds = (total_steps - trainer.step) *
                               (seconds_since(epoch_start) / static_cast<double>(batches));
        hooks.on_progress(progress);
      }
      if (is_main && config.run.checkpoint_every_steps > 0 &&
          trainer.step % config.run.checkpoint_every_steps == 0)
        save_run_checkpoint(trainer, "last.pt");
    }
    const double train_seconds = seconds_since(epoch_start);
    trainer.batches_into_epoch = 0;
    const int64_t finished_epoch = trainer.epoch + 1;
    if (trainer.world) {  // the epoch's loss over every rank's batches
      torch::Tensor sums = torch::tensor({loss_sum, aux_sum}, torch::kDouble);
      trainer.world->all_reduce_sum(sums);
      loss_sum = sums[0].item<double>() / world_size;
      aux_sum = sums[1].item<double>() / world_size;
    }
    if (!is_main) {  // rank 0 validates and writes; wait for it, then go on together
      trainer.world->barrier();
      continue;
    }
    const EvalOptions eval_options{config.data.eval_hflip};
    const EvalResult val = evaluate(*trainer.model, val_loader, trainer.runtime, eval_options);
    std::optional<EvalResult> val_ema;
    if (trainer.ema)
      val_ema = evaluate(trainer.ema->model(), val_loader, trainer.runtime, eval_options);
    // best.pt and inference follow the averaged weights when there are any (as timm's
    // checkpoint saver ranks by the EMA's metrics when it validates one).
    const EvalResult& ranked = val_ema ? *val_ema : val;

    nlohmann::json record = {{"epoch", finished_epoch},
                             {"step", trainer.step},
                             {"train_loss", batches ? loss_sum / batches : 0.0},
                             {"train_aux_loss", batches ? aux_sum / batches : 0.0},
                             {"lr", trainer.schedule.at(std::max<int64_t>(0, trainer.step - 1))},
                             {"train_images", images},
                             {"train_images_per_s", images / std::max(train_seconds, 1e-9)},
                             {"epoch_seconds", seconds_since(epoch_start)},
                             {"val", eval_json(val)}};
    if (val_ema) record["val_ema"] = eval_json(*val_ema);
    append_json_line(trainer.output_dir + "/metrics.jsonl", record);

    // Checkpoints describe the state after this epoch: resume starts the next one.
    trainer.epoch = finished_epoch;
    const bool improved = ranked.top1 > trainer.best_top1;
    if (improved) trainer.best_top1 = ranked.top1;
    save_run_checkpoint(trainer, "last.pt");
    if (improved) save_run_checkpoint(trainer, "best.pt");
    trainer.epoch = finished_epoch - 1;  // the loop's ++ moves on

    if (hooks.on_epoch)
      hooks.on_epoch(
          {finished_epoch, record,
           summary_line(finished_epoch, trainer.total_epochs, batches ? loss_sum / batches : 0.0,
                        val, val_ema ? &*val_ema : nullptr, seconds_since(epoch_start)),
           ranked.routing_warnings()});
    if (trainer.world) trainer.world->barrier();
  }
  if (!is_main) return;
  // OUT/curves.png from OUT/metrics.jsonl (absent when a finished run is resumed).
  if (std::filesystem::exists(trainer.output_dir + "/metrics.jsonl")) plot_run(trainer.output_dir);
}

}  // namespace moevit
