// The training loop (pytorch/examples mnist shape): per batch forward → loss → NaN check →
// backward → clip → step; after each epoch validation, metrics.jsonl, last.pt / best.pt.
#pragma once

#include <torch/optim/adamw.h>
#include <nlohmann/json.hpp>

#include <functional>
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

class ImageLoader;
class World;

struct TrainProgress {
  int64_t epoch = 0;  // 1-based, of total_epochs
  int64_t total_epochs = 0;
  int64_t step = 0;  // global, 1-based after the step
  int64_t total_steps = 0;
  double loss = 0;  // running mean over the epoch so far
  double lr = 0;
  double images_per_second = 0;
  double eta_seconds = 0;
};

struct EpochSummary {
  int64_t epoch = 0;      // 1-based
  nlohmann::json record;  // what went into metrics.jsonl
  std::string line;       // one human-readable summary line
  // Validation's routing warnings (EvalResult::routing_warnings), one line each.
  std::vector<std::string> warnings;
};

struct TrainHooks {
  std::function<void(const TrainProgress&)> on_progress;  // every run.log_every steps
  std::function<void(const EpochSummary&)> on_epoch;
};

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
  std::string output_dir;
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
// any number of processes.
Trainer make_trainer(Config config, const Runtime& runtime, std::vector<std::string> class_names,
                     int64_t train_batches_per_epoch, const std::string& resume_path,
                     World* world = nullptr);

// Runs the remaining epochs. Throws std::runtime_error when the loss becomes NaN/Inf (the
// last good checkpoint stays).
void train(Trainer& trainer, ImageLoader& train_loader, ImageLoader& val_loader,
           const TrainHooks& hooks);

// The checkpoint a --resume argument names: itself, or DIR/last.pt.
std::string resolve_resume_path(const std::string& resume);

}  // namespace moevit
