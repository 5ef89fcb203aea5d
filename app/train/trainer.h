// A training run's state: config, runtime, model, optimizer, moving average, schedule and
// position, built fresh or from a checkpoint by `make_trainer` and advanced by `train`
// (app/train/training.h).
#pragma once

#include <torch/optim/adamw.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "app/run/config.h"
#include "app/run/runtime.h"
#include "app/train/global_balance.h"
#include "app/train/lr_schedule.h"
#include "app/train/model_ema.h"
#include "vit/vision_transformer.h"

namespace moevit {

class World;

// Everything a run needs, built by `make_trainer` (fresh or resumed).
struct Trainer {
  Config config;
  Runtime runtime;
  std::vector<std::string> class_names;
  VisionTransformer model{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer;
  std::unique_ptr<ModelEma> ema;  // optim.ema_decay > 0
  LrSchedule schedule;
  int64_t steps_per_epoch = 0;
  int64_t total_epochs = 0;
  // Position: epochs completed, steps completed, steps done of the current epoch (each step
  // takes optim.accum_steps loader batches).
  int64_t epoch = 0, step = 0, batches_into_epoch = 0;
  double best_top1 = -1;
  // Steps skipped as non-finite by this process (optim.skip_nonfinite; not checkpointed, so a
  // resumed run has its whole allowance again).
  int64_t skipped_steps = 0;
  std::string output_dir;
  // `train --init FILE` (kept through resumes), recorded in checkpoints and metrics.jsonl.
  std::string initialized_from;
  // Data parallel: this process's place in the job (nullptr: one process). Rank 0 alone
  // validates and writes metrics, checkpoints and curves; the others wait for it.
  World* world = nullptr;
  // moe.balance_scope: global: the step's top-1 counts over ranks and micro-batches.
  std::unique_ptr<GlobalBalance> balance;
};

// Builds model and optimizer for `config`, with `train_batches_per_epoch` batches per epoch.
// resume_path: a checkpoint or an output folder holding last.pt (empty for a fresh run).
// With a world, rank 0's weights are broadcast, so every rank starts from the same model; the
// routing noise stays rank-specific. Steps count global batches, so a checkpoint resumes with
// any number of processes. A checkpoint of other data is refused, and one of another config
// unless `allow_config_change` (`train --allow-config-change`; app/run/config_diff.h says which
// keys may change anyway).
Trainer make_trainer(Config config, const Runtime& runtime, std::vector<std::string> class_names,
                     int64_t train_batches_per_epoch, const std::string& resume_path,
                     World* world = nullptr, bool allow_config_change = false);

// The checkpoint a --resume argument names: itself, or DIR/last.pt.
std::string resolve_resume_path(const std::string& resume);

}  // namespace moevit
