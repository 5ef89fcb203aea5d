#include "app/train/training.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "app/distributed/distributed.h"
#include "app/eval/evaluation.h"
#include "app/eval/metrics_log.h"
#include "app/figures/curves.h"
#include "app/run/checkpoint.h"
#include "app/train/rank_agreement.h"
#include "app/train/stop_request.h"
#include "app/train/train_step.h"
#include "datasets/loader.h"

namespace moevit {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Rank 0 (or the only process) validates and writes; the other ranks wait for it.
bool is_main(const Trainer& trainer) {
  return !trainer.world || trainer.world->is_main();
}

// One epoch's running totals, from its start (or where a resumed run came back in).
struct EpochTally {
  Clock::time_point start = Clock::now();
  int64_t loader_batches = 0;        // the loader's batches this epoch
  int64_t batches_taken = 0;         // of them taken: skipped on resume, or trained on
  int64_t steps = 0;                 // optimizer steps taken this epoch
  int64_t skipped = 0;               // of them skipped as non-finite (no update, no loss)
  double loss_sum = 0, aux_sum = 0;  // of the steps' losses (over all ranks after the epoch)
  int64_t images = 0;
  double lr = 0;             // the last step's
  double train_seconds = 0;  // from the start to the end of the last step

  // A step takes optim.accum_steps loader batches; the epoch's last one may take fewer.
  int64_t next_step_batches(int64_t accum_steps) const {
    return std::min(accum_steps, loader_batches - batches_taken);
  }
  void add(const StepResult& step) {
    batches_taken += step.batches;
    ++steps;
    lr = step.lr;
    if (step.skipped) {
      ++skipped;
      return;
    }
    loss_sum += step.loss;
    aux_sum += step.aux;
    images += step.images;
  }
  double mean_loss() const { return steps > skipped ? loss_sum / (steps - skipped) : 0.0; }
  double mean_aux_loss() const { return steps > skipped ? aux_sum / (steps - skipped) : 0.0; }
};

// Validation of the trained weights and, with optim.ema_decay, of their moving average.
struct Validation {
  EvalResult trained;
  std::optional<EvalResult> averaged;

  // best.pt and inference follow the averaged weights when there are any (as timm's
  // checkpoint saver ranks by the EMA's metrics when it validates one).
  const EvalResult& ranked() const { return averaged ? *averaged : trained; }
};

// The first line of an error's message (LibTorch's carry a backtrace after it).
std::string first_line_of(const std::exception& error) {
  const auto* torch_error = dynamic_cast<const c10::Error*>(&error);
  const std::string message = torch_error ? torch_error->what_without_backtrace() : error.what();
  return message.substr(0, message.find('\n'));
}

// `name` in the output folder, holding the run's position after `epochs_completed` epochs and
// trainer.batches_into_epoch steps of the next. A write that fails (a full disk, a folder made
// read-only) is one line naming the file; the one written before stays whole.
void save_run_checkpoint(Trainer& trainer, const std::string& name, int64_t epochs_completed) {
  CheckpointState state;
  state.config_yaml = dump_config(trainer.config);
  state.class_names = trainer.class_names;
  state.epoch = epochs_completed;
  state.step = trainer.step;
  state.batches_into_epoch = trainer.batches_into_epoch;
  state.best_top1 = trainer.best_top1;
  state.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  state.initialized_from = trainer.initialized_from;
  const std::string path = trainer.output_dir + "/" + name;
  const PartialFileGuard partial(path + ".tmp");  // a stop at once mid-write removes it
  try {
    save_checkpoint(path, *trainer.model, trainer.optimizer.get(), state,
                    trainer.ema ? &trainer.ema->model() : nullptr);
  } catch (const std::exception& error) {
    throw std::runtime_error(path + ": cannot write the checkpoint (" + first_line_of(error) +
                             "); the " + name + " written before, if any, is unchanged");
  }
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

// Epoch trainer.epoch begins: the loader's seeded order for it, with the batches a mid-epoch
// checkpoint already trained on skipped (the same ones come again), and the model in training
// mode.
EpochTally start_epoch(Trainer& trainer, ImageLoader& loader) {
  EpochTally tally;
  tally.loader_batches = loader.batches_per_epoch();
  loader.start_epoch(trainer.epoch);
  const int64_t skip =
      std::min(tally.loader_batches, trainer.batches_into_epoch * trainer.config.optim.accum_steps);
  for (; tally.batches_taken < skip; ++tally.batches_taken) loader.next_batch();
  trainer.model->train();
  return tally;
}

bool steps_remain(const Trainer& trainer, const EpochTally& tally) {
  return trainer.step < trainer.schedule.total_steps && tally.batches_taken < tally.loader_batches;
}

// Every run.log_every steps: the running loss, learning rate, speed and time left.
void log_progress(const Trainer& trainer, const EpochTally& tally, const TrainHooks& hooks) {
  if (!hooks.on_progress || trainer.step % trainer.config.run.log_every != 0) return;
  const double seconds = seconds_since(tally.start);
  TrainProgress progress;
  progress.epoch = trainer.epoch + 1;
  progress.total_epochs = trainer.total_epochs;
  progress.step = trainer.step;
  progress.total_steps = trainer.schedule.total_steps;
  progress.loss = tally.mean_loss();
  progress.lr = tally.lr;
  progress.images_per_second = tally.images / seconds;
  progress.eta_seconds =
      (trainer.schedule.total_steps - trainer.step) * (seconds / static_cast<double>(tally.steps));
  hooks.on_progress(progress);
}

// run.checkpoint_every_steps > 0: last.pt mid-epoch too (a resume skips what it trained on).
bool step_checkpoint_due(const Trainer& trainer) {
  const int64_t every = trainer.config.run.checkpoint_every_steps;
  return every > 0 && trainer.step % every == 0;
}

void save_step_checkpoint(Trainer& trainer) {
  if (is_main(trainer) && step_checkpoint_due(trainer))
    save_run_checkpoint(trainer, "last.pt", /*epochs_completed=*/trainer.epoch);
}

// The signal every rank agreed to stop for at this point (0: go on).
int agreed_stop(const Trainer& trainer, const TrainHooks& hooks) {
  return agreed_stop_signal(hooks.stop_signal ? hooks.stop_signal() : 0, trainer.world);
}

// A stop between two steps of an epoch: last.pt at this position (unless the step's own
// checkpoint has just written it), by rank 0 while the others wait, so that no rank exits
// before it is whole.
TrainEnd stop_mid_epoch(Trainer& trainer, int signal) {
  if (is_main(trainer) && !step_checkpoint_due(trainer))
    save_run_checkpoint(trainer, "last.pt", /*epochs_completed=*/trainer.epoch);
  if (trainer.world) trainer.world->barrier();
  return {signal, trainer.epoch + 1, trainer.step, trainer.output_dir + "/last.pt"};
}

// After the epoch's last step: its training time, the position moved to the epoch's end, and
// its losses summed over every rank's steps.
void finish_epoch_steps(Trainer& trainer, EpochTally& tally) {
  tally.train_seconds = seconds_since(tally.start);
  trainer.batches_into_epoch = 0;
  if (!trainer.world) return;
  torch::Tensor sums = torch::tensor({tally.loss_sum, tally.aux_sum}, torch::kDouble);
  trainer.world->all_reduce_sum(sums);
  const double ranks = static_cast<double>(trainer.world->size());
  tally.loss_sum = sums[0].item<double>() / ranks;
  tally.aux_sum = sums[1].item<double>() / ranks;
}

Validation validate(Trainer& trainer, ImageLoader& val_loader) {
  const EvalOptions options{trainer.config.data.eval_hflip};
  Validation validation;
  validation.trained = evaluate(*trainer.model, val_loader, trainer.runtime, options);
  if (trainer.ema)
    validation.averaged = evaluate(trainer.ema->model(), val_loader, trainer.runtime, options);
  return validation;
}

// The epoch's line of metrics.jsonl.
nlohmann::json epoch_record(const Trainer& trainer, const EpochTally& tally,
                            const Validation& validation) {
  nlohmann::json record = {
      {"epoch", trainer.epoch + 1},
      {"step", trainer.step},
      {"train_loss", tally.mean_loss()},
      {"train_aux_loss", tally.mean_aux_loss()},
      {"lr", trainer.schedule.at(std::max<int64_t>(0, trainer.step - 1))},
      {"train_images", tally.images},
      {"train_images_per_s", tally.images / std::max(tally.train_seconds, 1e-9)},
      {"epoch_seconds", seconds_since(tally.start)},
      {"val", eval_json(validation.trained)}};
  if (validation.averaged) record["val_ema"] = eval_json(*validation.averaged);
  if (tally.skipped > 0) record["skipped_nonfinite_steps"] = tally.skipped;
  if (!trainer.initialized_from.empty()) record["initialized_from"] = trainer.initialized_from;
  return record;
}

// Checkpoints describe the state after this epoch, so a resume starts the next one: last.pt,
// and best.pt when the ranked top-1 is the best so far.
void save_epoch_checkpoints(Trainer& trainer, const Validation& validation) {
  const bool improved = validation.ranked().top1 > trainer.best_top1;
  if (improved) trainer.best_top1 = validation.ranked().top1;
  save_run_checkpoint(trainer, "last.pt", /*epochs_completed=*/trainer.epoch + 1);
  if (improved) save_run_checkpoint(trainer, "best.pt", /*epochs_completed=*/trainer.epoch + 1);
}

void report_epoch(const Trainer& trainer, const EpochTally& tally, const Validation& validation,
                  nlohmann::json record, const TrainHooks& hooks) {
  if (!hooks.on_epoch) return;
  const EvalResult* averaged = validation.averaged ? &*validation.averaged : nullptr;
  hooks.on_epoch({trainer.epoch + 1, std::move(record),
                  summary_line(trainer.epoch + 1, trainer.total_epochs, tally.mean_loss(),
                               validation.trained, averaged, seconds_since(tally.start)),
                  validation.ranked().routing_warnings()});
}

// OUT/curves.png from OUT/metrics.jsonl (absent when a finished run is resumed).
void plot_curves(const Trainer& trainer) {
  if (std::filesystem::exists(trainer.output_dir + "/metrics.jsonl")) plot_run(trainer.output_dir);
}

// Rank 0, after the epoch's steps: validate, record in metrics.jsonl, checkpoint, report.
void validate_and_record(Trainer& trainer, const EpochTally& tally, ImageLoader& val_loader,
                         const TrainHooks& hooks) {
  const Validation validation = validate(trainer, val_loader);
  nlohmann::json record = epoch_record(trainer, tally, validation);
  append_json_line(trainer.output_dir + "/metrics.jsonl", record);
  save_epoch_checkpoints(trainer, validation);
  report_epoch(trainer, tally, validation, std::move(record), hooks);
}

// Whether an epoch follows the one in progress.
bool epochs_remain_after_this(const Trainer& trainer) {
  return trainer.epoch + 1 < trainer.total_epochs && trainer.step < trainer.schedule.total_steps;
}

}  // namespace

TrainEnd train(Trainer& trainer, ImageLoader& train_loader, ImageLoader& val_loader,
               const TrainHooks& hooks) {
  std::filesystem::create_directories(trainer.output_dir);
  const StepContext context = step_context(trainer);
  // A signal while the run was being set up stops it before its first step.
  if (const int signal = agreed_stop(trainer, hooks))
    return {signal, trainer.epoch + 1, trainer.step, ""};
  for (; trainer.epoch < trainer.total_epochs && trainer.step < trainer.schedule.total_steps;
       ++trainer.epoch) {
    EpochTally tally = start_epoch(trainer, train_loader);
    while (steps_remain(trainer, tally)) {
      const int64_t micro_batches = tally.next_step_batches(trainer.config.optim.accum_steps);
      tally.add(train_step(trainer, context, train_loader, micro_batches, hooks));
      log_progress(trainer, tally, hooks);
      save_step_checkpoint(trainer);
      // After the epoch's last step, a stop waits for its validation and checkpoints.
      if (steps_remain(trainer, tally))
        if (const int signal = agreed_stop(trainer, hooks)) return stop_mid_epoch(trainer, signal);
    }
    finish_epoch_steps(trainer, tally);
    // Rank 0 validates and writes; the others wait for it, then all go on together.
    if (is_main(trainer)) validate_and_record(trainer, tally, val_loader, hooks);
    if (trainer.world) trainer.world->barrier();
    if (epochs_remain_after_this(trainer))
      if (const int signal = agreed_stop(trainer, hooks))
        return {signal, trainer.epoch + 1, trainer.step, trainer.output_dir + "/last.pt"};
  }
  if (is_main(trainer)) plot_curves(trainer);
  return {};
}

}  // namespace moevit
