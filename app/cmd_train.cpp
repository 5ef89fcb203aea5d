// moevit train --config F [--set key=value ...] [--resume DIR|CKPT [--allow-config-change] |
//              --init FILE] [--out DIR] [--nproc N | --rank R --world-size W --master HOST:PORT]
//              [--backend gloo]
// SIGINT / SIGTERM stop it after the step in progress with last.pt written, exit 128 + signal.
#include <unistd.h>

#include <filesystem>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "app/cli_options.h"
#include "app/commands.h"
#include "app/distributed/distributed.h"
#include "app/distributed/launcher.h"
#include "app/distributed/world_setup.h"
#include "app/pretrained/init_from.h"
#include "app/run/atomic_write.h"
#include "app/run/checkpoint.h"
#include "app/run/data_setup.h"
#include "app/run/run_lock.h"
#include "app/run/runtime.h"
#include "app/train/rank_agreement.h"
#include "app/train/stop_request.h"
#include "app/train/training.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"

namespace moevit {

namespace {

std::string format_duration(double seconds) {
  const int64_t total = static_cast<int64_t>(seconds + 0.5);
  char text[32];
  if (total >= 3600)
    std::snprintf(text, sizeof text, "%lldh%02lldm", (long long)(total / 3600),
                  (long long)(total % 3600 / 60));
  else
    std::snprintf(text, sizeof text, "%lldm%02llds", (long long)(total / 60),
                  (long long)(total % 60));
  return text;
}

void print_progress(const TrainProgress& progress) {
  // On a terminal the line redraws in place; in a log each report is its own line.
  static const bool terminal = isatty(fileno(stderr));
  std::fprintf(stderr,
               "%sepoch %lld/%lld  step %lld/%lld  loss %.4f  lr %.2e  %.0f img/s  ETA %s%s",
               terminal ? "\r" : "", (long long)progress.epoch, (long long)progress.total_epochs,
               (long long)progress.step, (long long)progress.total_steps, progress.loss,
               progress.lr, progress.images_per_second,
               format_duration(progress.eta_seconds).c_str(), terminal ? "   " : "\n");
  std::fflush(stderr);
}

Config config_for_run(const cxxopts::ParseResult& options, const std::string& resume_path) {
  const std::vector<std::string> overrides = run_overrides(options);
  if (options.count("config")) return load_config(options["config"].as<std::string>(), overrides);
  if (resume_path.empty())
    throw std::invalid_argument("train: --config FILE is required (e.g. configs/fmnist-soft.yaml)");
  // Resuming without --config continues with the checkpoint's own resolved config.
  return parse_config(read_checkpoint_state(resume_path).config_yaml, resume_path, overrides);
}

// The data-parallel options given on the command line.
WorldFlags world_flags(const cxxopts::ParseResult& options) {
  WorldFlags flags;
  if (options.count("world-size")) flags.world_size = options["world-size"].as<int64_t>();
  if (options.count("rank")) flags.rank = options["rank"].as<int64_t>();
  if (options.count("master")) flags.master = options["master"].as<std::string>();
  if (options.count("backend")) flags.backend = options["backend"].as<std::string>();
  return flags;
}

// The line of a run a signal stopped, saying how to go on; its exit status (130, 143).
int report_stop(const TrainEnd& end, const Trainer& trainer, bool is_main) {
  if (!is_main) return 128 + end.stop_signal;
  if (isatty(fileno(stderr))) std::fprintf(stderr, "\n");  // after the redrawn progress line
  const std::string name = signal_name(end.stop_signal);
  if (end.checkpoint.empty()) {
    std::fprintf(stderr, "moevit: %s: stopped before the first step; no checkpoint was written\n",
                 name.c_str());
  } else {
    const std::string processes =
        trainer.world && trainer.world->size() > 1 ? " (with any number of processes)" : "";
    std::fprintf(stderr,
                 "moevit: %s: stopped after step %lld of %lld (epoch %lld/%lld); wrote %s; "
                 "resume with: moevit train --resume %s%s\n",
                 name.c_str(), (long long)end.step, (long long)trainer.schedule.total_steps,
                 (long long)end.epoch, (long long)trainer.total_epochs, end.checkpoint.c_str(),
                 end.checkpoint.c_str(), processes.c_str());
  }
  return 128 + end.stop_signal;
}

}  // namespace

int run_train(const CommandArgs& args) {
  cxxopts::Options parser("moevit train", "Train a ViT-MoE classifier on a folder of images.");
  add_run_options(parser);
  parser.add_options()("resume", "continue from a checkpoint or an output folder's last.pt",
                       cxxopts::value<std::string>())(
      "allow-config-change",
      "resume even though the config differs from the checkpoint's in keys other than threads, "
      "workers, output folder, logging and epochs/steps")(
      "init",
      "start from the weights of a checkpoint or a timm ViT .safetensors file (positions "
      "resampled, a fresh head, dense FFNs upcycled into experts; a fresh optimizer)",
      cxxopts::value<std::string>())("out", "output folder (run.output_dir)",
                                     cxxopts::value<std::string>());
  parser.add_options("Data parallel")(
      "nproc", "start N processes on this machine (cores shared out) and wait for them",
      cxxopts::value<int64_t>())("rank", "this process's rank (or RANK)",
                                 cxxopts::value<int64_t>())(
      "world-size", "number of processes in the job (or WORLD_SIZE)", cxxopts::value<int64_t>())(
      "master", "rank 0's HOST:PORT for the rendezvous (or MASTER_ADDR, MASTER_PORT)",
      cxxopts::value<std::string>())("backend", "gloo (CPU); nccl in CUDA builds",
                                     cxxopts::value<std::string>());
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (options.count("nproc"))
    if (const std::optional<LaunchOptions> launch =
            local_launch_options(args, options["nproc"].as<int64_t>()))
      return launch_local_processes(*launch);
  const std::string resume_path =
      options.count("resume") ? resolve_resume_path(options["resume"].as<std::string>()) : "";
  const std::string init_path = option_or(options, "init", "");
  if (!init_path.empty() && !resume_path.empty())
    throw std::invalid_argument(
        "train: --init starts a new run from weights, --resume continues one: give one of them");
  Config config = config_for_run(options, resume_path);
  if (options.count("out")) config.run.output_dir = options["out"].as<std::string>();
  require_data_root(config);
  // 0 cuts the experts at evaluation: every epoch's validation (and best.pt) would rank a model
  // without them. It is for eval --set and eval --sweep.
  if (config.model.moe.router != RouterKind::kDense && config.model.moe.eval_capacity_factor == 0)
    throw std::invalid_argument(config.source +
                                ": moe.eval_capacity_factor: expected a number > 0 for training "
                                "(0 cuts the experts; use it with eval), got 0");

  World world(resolve_world_options(world_flags(options),
                                    std::chrono::seconds(config.run.collective_timeout_s)));
  const bool is_main = world.is_main();
  // From here a signal stops the run between steps; only rank 0 says so (and writes).
  const StopSignals stop(config.run.output_dir + "/last.pt", /*announce=*/is_main);
  std::string lock_note;
  const std::unique_ptr<RunLock> lock =
      lock_output_folder(world, config.run.output_dir, &lock_note);
  if (!lock_note.empty()) std::fprintf(stderr, "%s\n", lock_note.c_str());
  std::string warning;
  const Runtime runtime = configure_runtime(config.run, &warning);
  if (!warning.empty() && is_main) std::fprintf(stderr, "%s\n", warning.c_str());
  const TrainValFolders folders = resolve_train_val(config.data.root, config.data.val_split,
                                                    static_cast<uint64_t>(config.run.seed));
  config.model.num_classes = static_cast<int64_t>(folders.train.class_names.size());

  const WarningSink warn = [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
  };
  ImageLoader train_loader(
      folders.train, transform_options(config),
      loader_options(config, TransformMode::kTrain, world.rank(), world.size()), warn);
  ImageLoader val_loader(folders.val, transform_options(config), evaluation_loader_options(config),
                         warn);
  Trainer trainer =
      make_trainer(config, runtime, folders.train.class_names, train_loader.batches_per_epoch(),
                   resume_path, &world, options.count("allow-config-change") > 0);
  std::vector<std::string> init_lines;
  if (!init_path.empty()) {
    // The same file on every rank gives every rank the same weights (routers: run.seed's).
    init_lines = initialize_from(init_path, *trainer.model);
    trainer.initialized_from = init_path;
    if (trainer.ema)
      trainer.ema = std::make_unique<ModelEma>(*trainer.model, trainer.config.optim.ema_decay);
  }
  TrainHooks hooks;
  hooks.stop_signal = [&stop] { return stop.received(); };
  if (!is_main) {  // computes and all-reduces; rank 0 reports and writes
    const TrainEnd end = train(trainer, train_loader, val_loader, hooks);
    return end.stop_signal ? report_stop(end, trainer, is_main) : 0;
  }
  std::filesystem::create_directories(trainer.output_dir);
  write_text_file(trainer.output_dir + "/config.yaml", dump_config(trainer.config));

  const std::string processes =
      world.size() > 1 ? ", " + std::to_string(world.size()) + " processes (gloo)" : "";
  std::printf("train %s: %zu train / %zu val images, %zu classes, %s%s%s\n", config.source.c_str(),
              folders.train.samples.size(), folders.val.samples.size(),
              folders.train.class_names.size(), runtime.description.c_str(), processes.c_str(),
              resume_path.empty() ? "" : (", resumed from " + resume_path).c_str());
  if (!init_path.empty()) std::printf("initialised from %s\n", init_path.c_str());
  for (const std::string& line : init_lines) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  hooks.on_progress = print_progress;
  hooks.on_notice = [](const std::string& line) {
    if (isatty(fileno(stderr))) std::fprintf(stderr, "\n");  // after the redrawn progress line
    std::fprintf(stderr, "moevit: %s\n", line.c_str());
  };
  hooks.on_epoch = [](const EpochSummary& summary) {
    if (isatty(fileno(stderr))) std::fprintf(stderr, "\n");
    std::printf("%s\n", summary.line.c_str());
    for (const std::string& warning : summary.warnings) std::printf("%s\n", warning.c_str());
    std::fflush(stdout);
  };
  const TrainEnd end = train(trainer, train_loader, val_loader, hooks);
  if (end.stop_signal) return report_stop(end, trainer, is_main);

  const LoaderSummary skipped = train_loader.summary();
  if (!skipped.skipped.empty())
    std::printf("skipped %zu unreadable training images (listed above)\n", skipped.skipped.size());
  std::printf("done: best val top1 %.2f%%; checkpoints in %s (last.pt, best.pt)\n",
              100 * std::max(0.0, trainer.best_top1), trainer.output_dir.c_str());
  return 0;
}

}  // namespace moevit
