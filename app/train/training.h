// The training loop, a few named calls per step as pytorch/examples' mnist `train` and llm.c's
// main loop keep it: per step the next batches → forward, loss, NaN check, backward (gradient
// accumulation) → all-reduce, clip, AdamW → log; after each epoch validate → record in
// metrics.jsonl → checkpoint last.pt / best.pt.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "app/train/trainer.h"

namespace moevit {

class ImageLoader;

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
  // Asked after every step and at the end of every epoch: a signal number (SIGINT, SIGTERM)
  // asks the run to stop there, 0 to go on (StopSignals::received in the CLI). Every rank
  // asks, and the ranks agree (app/train/rank_agreement.h) before any of them stops.
  std::function<int()> stop_signal;
  // One line worth printing at once: a step skipped as non-finite (optim.skip_nonfinite).
  std::function<void(const std::string&)> on_notice;
};

// How `train` ended.
struct TrainEnd {
  int stop_signal = 0;  // 0: every step was taken; else the signal the run stopped for
  int64_t epoch = 0;    // the epoch of the last step taken, 1-based (0: none was taken)
  int64_t step = 0;     // steps completed
  // Where the run can resume from: OUT/last.pt, written at the stop (mid-epoch, or at the end
  // of the epoch just validated); empty when it stopped before its first step.
  std::string checkpoint;
};

// Runs the remaining epochs, or until a stop agreed on all ranks. Throws std::runtime_error
// when the loss or the gradients become NaN/Inf more often than optim.skip_nonfinite allows,
// or when a checkpoint cannot be written (the last good checkpoint stays, whole).
TrainEnd train(Trainer& trainer, ImageLoader& train_loader, ImageLoader& val_loader,
               const TrainHooks& hooks);

}  // namespace moevit
