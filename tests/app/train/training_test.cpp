#include "app/train/training.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "app/eval/evaluation.h"
#include "app/eval/metrics_log.h"
#include "app/run/checkpoint.h"
#include "app/run/data_setup.h"
#include "app/run/model_loading.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::read_all;
using testing::TempDir;

// A run's loaders and trainer for `config`, from `resume` (or fresh), built as `moevit train`
// builds them.
struct RunSetup {
  RunSetup(const Config& config, const std::string& resume)
      : runtime(configure_runtime(config.run, nullptr)),
        folders(resolve_train_val(config.data.root, 0.0, 0)),
        train_loader(folders.train, transform_options(config),
                     loader_options(config, TransformMode::kTrain)),
        val_loader(folders.val, transform_options(config),
                   loader_options(config, TransformMode::kEval)),
        trainer(make_trainer(config, runtime, folders.train.class_names,
                             train_loader.batches_per_epoch(), resume)) {}
  TrainEnd train(const TrainHooks& hooks = {}) {
    return moevit::train(trainer, train_loader, val_loader, hooks);
  }

  Runtime runtime;
  TrainValFolders folders;
  ImageLoader train_loader, val_loader;
  Trainer trainer;
};

// Trains `config` from `resume` (or fresh) for at most `stop_after_epochs` epochs in total;
// `end` (if given) gets how training ended.
VisionTransformer run(const Config& config, const std::string& resume, int64_t stop_after_epochs,
                      const TrainHooks& hooks = {}, TrainEnd* end = nullptr) {
  RunSetup setup(config, resume);
  setup.trainer.total_epochs = stop_after_epochs;  // as if the run were killed after this epoch
  const TrainEnd ended = setup.train(hooks);
  if (end) *end = ended;
  return setup.trainer.model;
}

Config texture_config(const std::string& data, const std::string& out, const std::string& router,
                      std::vector<std::string> overrides = {}) {
  for (const char* augment : {"moe.noise_std=2.0", "data.hflip=0.5", "data.crop_padding=1"})
    overrides.push_back(augment);
  return parse_config(testing::tiny_config_yaml(data, out, router, 4), "test.yaml", overrides);
}

// Every random draw (noise, crop, flip, RandAugment, colour jitter, Mixup/CutMix) comes from the
// seed and the position, so a resumed run ends where the straight run ends.
TEST(Training, TwoEpochsThenResumeEqualsFourEpochsStraight) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  const std::vector<std::string> augmented = {"data.auto_augment=randaugment",
                                              "data.color_jitter=0.4", "data.mixup=0.8",
                                              "data.cutmix=1.0", "optim.label_smoothing=0.1"};
  const std::pair<std::string, std::vector<std::string>> cases[] = {
      {"topk", {}}, {"soft", {}}, {"topk", augmented}};
  for (const auto& [router, overrides] : cases) {
    const std::string name = router + std::to_string(overrides.size());
    const VisionTransformer straight =
        run(texture_config(dir / "data", dir / ("a-" + name), router, overrides), "", 4);
    const Config config = texture_config(dir / "data", dir / ("b-" + name), router, overrides);
    run(config, "", 2);
    EXPECT_EQ(read_checkpoint_state(dir / ("b-" + name) + "/last.pt").epoch, 2);
    const VisionTransformer resumed = run(config, dir / ("b-" + name) + "/last.pt", 4);
    const auto expected = straight->named_parameters();
    for (const auto& item : resumed->named_parameters())
      EXPECT_TRUE(torch::equal(item.value(), expected[item.key()])) << name << " " << item.key();
  }
}

// DeepSeek-V3's balancing bias is state: a resumed run continues from the checkpoint's bias and
// ends where the straight run ends, parameters and bias alike.
TEST(Training, BiasBalancedRunResumesExactlyWithItsBias) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  const auto config_for = [&](const std::string& out) {
    return parse_config(testing::tiny_config_yaml(dir / "data", out, "topk", 4), "test.yaml",
                        {"moe.gate=sigmoid", "moe.balance=bias", "moe.bias_rate=0.01", "moe.k=2",
                         "moe.shared_experts=1", "data.hflip=0.5"});
  };
  const VisionTransformer straight = run(config_for(dir / "a"), "", 4);
  run(config_for(dir / "b"), "", 2);
  const VisionTransformer resumed = run(config_for(dir / "b"), dir / "b/last.pt", 4);
  const auto expected = straight->named_parameters();
  for (const auto& item : resumed->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), expected[item.key()])) << item.key();
  const auto expected_buffers = straight->named_buffers();
  ASSERT_EQ(resumed->named_buffers().size(), 1u);  // blocks.1.moe.expert_bias
  for (const auto& item : resumed->named_buffers()) {
    EXPECT_TRUE(torch::equal(item.value(), expected_buffers[item.key()])) << item.key();
    // It moved in steps of the rate (4 epochs × 3 steps = 12 updates of ±0.01 or 0).
    EXPECT_GT(item.value().abs().max().item<float>(), 0.005) << item.key();
    EXPECT_LE(item.value().abs().max().item<float>(), 0.12 + 1e-6) << item.key();
  }
}

// The averaged weights a checkpoint holds, in a model built from its config.
VisionTransformer averaged_weights_of(const std::string& checkpoint_path) {
  CheckpointReader checkpoint(checkpoint_path);
  const Config config = parse_config(checkpoint.state().config_yaml, checkpoint_path, {});
  VisionTransformer model(config.model, WeightInit::kOverwrittenByCheckpoint);
  checkpoint.load_averaged_weights(*model);
  return model;
}

TEST(Training, MovingAverageResumesExactlyAndIsWhatInferenceLoads) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  Config straight_config = texture_config(dir / "data", dir / "a", "priority");
  straight_config.optim.ema_decay = 0.9;
  run(straight_config, "", 4);
  Config config = straight_config;
  config.run.output_dir = dir / "b";
  run(config, "", 2);
  const auto trained = run(config, dir / "b/last.pt", 4)->named_parameters();
  const auto expected = averaged_weights_of(dir / "a/last.pt")->named_parameters();
  const auto resumed = averaged_weights_of(dir / "b/last.pt")->named_parameters();
  bool any_differs_from_trained = false;
  for (const auto& item : resumed) {
    EXPECT_TRUE(torch::equal(item.value(), expected[item.key()])) << item.key();
    any_differs_from_trained |= !torch::equal(item.value(), trained[item.key()]);
  }
  EXPECT_TRUE(any_differs_from_trained);  // an average, not a second copy of the weights

  // Keeping an average leaves the training itself (its random stream included) unchanged.
  Config without_average = straight_config;
  without_average.optim.ema_decay = 0;
  without_average.run.output_dir = dir / "c";
  const auto trained_alone = run(without_average, "", 4)->named_parameters();
  for (const auto& item : trained)
    EXPECT_TRUE(torch::equal(item.value(), trained_alone[item.key()])) << item.key();

  // Each epoch validates both; best.pt was ranked by the average, and inference loads it.
  const std::vector<nlohmann::json> records = read_json_lines(dir / "a/metrics.jsonl");
  ASSERT_EQ(records.size(), 4u);
  double best_average = 0;
  for (const nlohmann::json& record : records) {
    ASSERT_TRUE(record.contains("val_ema"));
    best_average = std::max(best_average, record["val_ema"]["top1"].get<double>());
  }
  EXPECT_DOUBLE_EQ(read_checkpoint_state(dir / "a/best.pt").best_top1, best_average);
  const LoadedModel loaded = load_model(dir / "a/last.pt", {});
  EXPECT_TRUE(loaded.averaged_weights);
  for (const auto& item : loaded.model->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), expected[item.key()])) << item.key();
  // --weights trained / average pick either one explicitly.
  const LoadedModel trained_loaded = load_model(dir / "a/last.pt", {}, WeightSource::kTrained);
  EXPECT_FALSE(trained_loaded.averaged_weights);
  CheckpointReader straight_checkpoint(dir / "a/last.pt");
  VisionTransformer trained_model(straight_config.model, WeightInit::kOverwrittenByCheckpoint);
  straight_checkpoint.load_weights(*trained_model, nullptr);
  const auto trained_expected = trained_model->named_parameters();
  for (const auto& item : trained_loaded.model->named_parameters())
    EXPECT_TRUE(torch::equal(item.value(), trained_expected[item.key()])) << item.key();
  EXPECT_TRUE(load_model(dir / "a/last.pt", {}, WeightSource::kAverage).averaged_weights);
}

TEST(Training, WritesMetricsAndCheckpointsEachEpoch) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  const Config config = texture_config(dir / "data", dir / "out", "priority");
  run(config, "", 2);
  const std::vector<nlohmann::json> records = read_json_lines(dir / "out/metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);
  for (const char* key :
       {"epoch", "step", "train_loss", "train_aux_loss", "lr", "train_images_per_s", "val"})
    EXPECT_TRUE(records[1].contains(key)) << key;
  EXPECT_EQ(records[1]["epoch"], 2);
  EXPECT_EQ(records[1]["val"]["routing"].size(), 1u);  // depth 2, every 2 → block 1
  EXPECT_EQ(records[1]["val"]["routing"][0]["block"], 1);
  EXPECT_TRUE(std::filesystem::exists(dir / "out/last.pt"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/best.pt"));
  EXPECT_FALSE(records[1].contains("val_ema"));  // no moving average unless asked for
  EXPECT_FALSE(CheckpointReader(dir / "out/last.pt").has_averaged_weights());
  EXPECT_FALSE(load_model(dir / "out/last.pt", {}).averaged_weights);
  EXPECT_FALSE(load_model(dir / "out/last.pt", {}, WeightSource::kTrained).averaged_weights);
  EXPECT_NE(testing::error_message([&] {
              load_model(dir / "out/last.pt", {}, WeightSource::kAverage);
            }).find("last.pt: --weights average, but the run kept no moving average"),
            std::string::npos);
  const CheckpointState state = read_checkpoint_state(dir / "out/last.pt");
  EXPECT_EQ(state.class_names, (std::vector<std::string>{"checker", "horizontal", "vertical"}));
  EXPECT_EQ(parse_config(state.config_yaml, "ckpt", {}).model.dim, 16);
}

TEST(Training, NonFiniteLossStopsWithAClearMessage) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 4, 1);
  Config config = texture_config(dir / "data", dir / "out", "topk");
  config.optim.lr = 1e30;  // the first step blows the weights up; the second loss is NaN/Inf
  config.optim.grad_clip = 0;
  EXPECT_NE(testing::error_message([&] { run(config, "", 1); }).find("loss is"), std::string::npos);
}

// A stop asked for after step `stop_step` (SIGINT, as the CLI's StopSignals reports it).
TrainHooks stop_after(int64_t stop_step, int64_t& steps_seen) {
  TrainHooks hooks;
  hooks.on_progress = [&steps_seen](const TrainProgress& progress) { steps_seen = progress.step; };
  hooks.stop_signal = [&steps_seen, stop_step] { return steps_seen == stop_step ? SIGINT : 0; };
  return hooks;
}

// 18 images in batches of 8: 3 steps per epoch. A stop after step 4 comes mid-epoch 2 (last.pt
// written there); one after step 3 waits for epoch 1's validation and checkpoints. Either way
// the resumed run ends bit for bit where the uninterrupted one ends.
TEST(Training, AStopWritesLastPtAndTheResumeEndsWhereTheStraightRunEnds) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  const VisionTransformer straight = run(texture_config(dir / "data", dir / "a", "topk"), "", 4);
  const auto expected = straight->named_parameters();
  struct Case {
    int64_t stop_step, epochs_completed, batches_into_epoch, epoch;
  };
  for (const Case& stop : {Case{4, 1, 1, 2}, Case{3, 1, 0, 1}}) {
    const std::string out = dir / ("b" + std::to_string(stop.stop_step));
    const Config config = texture_config(dir / "data", out, "topk");
    int64_t steps_seen = 0;
    TrainEnd end;
    run(config, "", 4, stop_after(stop.stop_step, steps_seen), &end);
    EXPECT_EQ(end.stop_signal, SIGINT);
    EXPECT_EQ(end.step, stop.stop_step);
    EXPECT_EQ(end.epoch, stop.epoch);
    EXPECT_EQ(end.checkpoint, out + "/last.pt");
    EXPECT_EQ(steps_seen, stop.stop_step);  // no step after the stop
    const CheckpointState state = read_checkpoint_state(out + "/last.pt");
    EXPECT_EQ(state.step, stop.stop_step);
    EXPECT_EQ(state.epoch, stop.epochs_completed);
    EXPECT_EQ(state.batches_into_epoch, stop.batches_into_epoch);
    EXPECT_EQ(read_json_lines(out + "/metrics.jsonl").size(), 1u);  // epoch 1 validated

    TrainEnd resumed_end;
    const VisionTransformer resumed = run(config, out + "/last.pt", 4, {}, &resumed_end);
    EXPECT_EQ(resumed_end.stop_signal, 0);
    for (const auto& item : resumed->named_parameters())
      EXPECT_TRUE(torch::equal(item.value(), expected[item.key()]))
          << "stop after step " << stop.stop_step << ": " << item.key();
    EXPECT_EQ(read_json_lines(out + "/metrics.jsonl").size(), 4u);
  }
}

// Makes `folder` refuse new files. Root writes whatever the permissions say, so for root a
// folder stands where the checkpoint's temporary file (PATH.tmp) would be written.
void refuse_new_files(const std::string& folder) {
  if (geteuid() != 0)
    chmod(folder.c_str(), 0555);
  else
    std::filesystem::create_directories(folder + "/last.pt.tmp/in-the-way");
}

TEST(Training, AnUnwritableOutputFolderFailsInOneLineAndKeepsLastPt) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 4, 1);
  const Config config = texture_config(dir / "data", dir / "out", "topk");
  run(config, "", 1);
  const std::string last = dir / "out/last.pt", before = read_all(last);
  refuse_new_files(dir / "out");
  const std::string error = testing::error_message([&] { run(config, last, 2); });
  EXPECT_EQ(error.rfind(last + ": cannot write the checkpoint (", 0), 0u) << error;
  EXPECT_NE(error.find("); the last.pt written before, if any, is unchanged"), std::string::npos)
      << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  EXPECT_EQ(read_all(last), before);
  EXPECT_FALSE(std::filesystem::is_regular_file(last + ".tmp"));  // nothing half-written
  EXPECT_EQ(read_checkpoint_state(last).epoch, 1);
}

void poison(const torch::Tensor& weight) {
  torch::NoGradGuard no_grad;
  weight.view(-1)[0].fill_(std::numeric_limits<float>::quiet_NaN());
}

// MoE blocks 1 and 3; 18 images in batches of 8: 3 steps per epoch.
Config two_moe_blocks(const std::string& data, const std::string& out, int64_t skip_nonfinite) {
  return texture_config(
      data, out, "topk",
      {"model.depth=4", "optim.skip_nonfinite=" + std::to_string(skip_nonfinite)});
}

// Block 3's router goes NaN for step 3 alone: that step is skipped with a notice naming the
// block, nothing is updated, and the run goes on to its end.
TEST(Training, ANonFiniteStepIsSkippedWithoutAnUpdateAndTheRunGoesOn) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  RunSetup setup(two_moe_blocks(dir / "data", dir / "out", 1), "");
  setup.trainer.total_epochs = 2;
  MoeLayer block3 = setup.trainer.model->moe_layers().at(1);
  torch::Tensor healthy_router;
  std::vector<torch::Tensor> before_skip;
  std::vector<std::string> notices;
  TrainHooks hooks;
  hooks.on_notice = [&](const std::string& line) { notices.push_back(line); };
  hooks.on_progress = [&](const TrainProgress& progress) {
    torch::NoGradGuard no_grad;
    if (progress.step == 2) {
      for (const torch::Tensor& parameter : setup.trainer.model->parameters())
        before_skip.push_back(parameter.clone());
      healthy_router = block3->router_weight.clone();
      poison(block3->router_weight);
    } else if (progress.step == 3) {  // the skipped step: heal the router, then compare
      block3->router_weight.copy_(healthy_router);
      const std::vector<torch::Tensor> after = setup.trainer.model->parameters();
      for (size_t index = 0; index < after.size(); ++index)
        EXPECT_TRUE(torch::equal(after[index], before_skip[index])) << index;
    }
  };
  const TrainEnd end = setup.train(hooks);
  EXPECT_EQ(end.stop_signal, 0);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0],
            "step 3: loss is nan; the router logits of MoE block 3 are the first non-finite (its "
            "router weights are non-finite); skipped without an update (1 of "
            "optim.skip_nonfinite: 1)");
  EXPECT_EQ(setup.trainer.skipped_steps, 1);
  EXPECT_EQ(setup.trainer.step, 6);  // the skipped step counts as a step of the schedule
  for (const torch::Tensor& parameter : setup.trainer.model->parameters())
    EXPECT_TRUE(torch::isfinite(parameter).all().item<bool>());
  const std::vector<nlohmann::json> records = read_json_lines(dir / "out/metrics.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0]["skipped_nonfinite_steps"], 1);
  EXPECT_TRUE(std::isfinite(records[0]["train_loss"].get<double>()));  // of steps 1 and 2
  EXPECT_FALSE(records[1].contains("skipped_nonfinite_steps"));
}

TEST(Training, NonFiniteStepsPastTheAllowanceStopTheRunNamingTheBlock) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  for (const int64_t allowed : {0, 2}) {
    const std::string out = dir / ("out" + std::to_string(allowed));
    RunSetup setup(two_moe_blocks(dir / "data", out, allowed), "");
    poison(setup.trainer.model->moe_layers().at(0)->router_weight);  // block 1, from the start
    const std::vector<torch::Tensor> initial = setup.trainer.model->parameters();
    std::vector<torch::Tensor> before;
    for (const torch::Tensor& parameter : initial) before.push_back(parameter.clone());
    std::vector<std::string> notices;
    TrainHooks hooks;
    hooks.on_notice = [&](const std::string& line) { notices.push_back(line); };
    const std::string error = testing::error_message([&] { setup.train(hooks); });
    const std::string finding =
        "loss is nan; the router logits of MoE block 1 are the first non-finite (its router "
        "weights are non-finite)";
    const std::string last = "; the last good checkpoint is " + out + "/last.pt";
    if (allowed == 0) {
      EXPECT_EQ(error, "step 1: " + finding +
                           "; stopped (lower optim.lr, raise optim.grad_clip, or let "
                           "optim.skip_nonfinite skip such steps)" +
                           last);
    } else {
      EXPECT_EQ(error, "step 3: " + finding +
                           "; stopped, one more such step than optim.skip_nonfinite (2) allows "
                           "(lower optim.lr or raise optim.grad_clip)" +
                           last);
      EXPECT_EQ(notices.size(), 2u);
    }
    for (size_t index = 0; index < initial.size(); ++index)  // nothing was ever updated
      EXPECT_TRUE(torch::allclose(initial[index], before[index], /*rtol=*/0, /*atol=*/0,
                                  /*equal_nan=*/true))
          << index;
  }
}

TEST(Training, ValidationWarnsAboutLayersWhoseRoutingConcentrated) {
  // Block 3: 3 of 4 tokens ask expert 1 of 4 (capacity 1 each: 2 dropped); block 5: balanced.
  auto stats_of = [](std::vector<int64_t> experts) {
    RoutingStats stats;
    stats.expert_requested = torch::zeros({4}, torch::kDouble);
    for (int64_t expert : experts) stats.expert_requested[expert] += 1;
    stats.expert_load = stats.expert_requested.clamp_max(1);
    stats.tokens = stats.assignments = static_cast<int64_t>(experts.size());
    stats.dropped =
        stats.assignments - static_cast<int64_t>(stats.expert_load.sum().item<double>());
    stats.dropped_fraction = static_cast<double>(stats.dropped) / stats.assignments;
    stats.top_gate_sum = stats.combine_weight_sum = 0.9 * stats.tokens;  // confident gates
    return stats;
  };
  EvalResult result;
  result.routing = {{3, stats_of({1, 1, 0, 1})}, {5, stats_of({0, 1, 2, 3})}};
  const std::vector<std::string> warnings = result.routing_warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("block 3: 75% of the tokens chose expert 1 (balanced: 25%)"),
            std::string::npos)
      << warnings[0];
  EXPECT_NE(warnings[0].find("50% of the assignments were dropped"), std::string::npos);
}

TEST(Training, ValidationWarnsAboutLayersWhoseExpertsReachTheResidualWeakly) {
  // 8 tokens, k = 1 of 8 experts, balanced: warned below min(1/2, 2k/E) = 0.25 per token.
  const auto stats_with_weight = [](double mean_weight) {
    RoutingStats stats;
    stats.expert_requested = stats.expert_load = torch::ones({8}, torch::kDouble);
    stats.tokens = stats.assignments = 8;
    stats.top_gate_sum = 8 * 0.125;
    stats.combine_weight_sum = 8 * mean_weight;
    return stats;
  };
  EvalResult result;
  // Block 5's experts were cut on purpose (eval capacity factor 0): routed, none reached.
  RoutingStats cut = stats_with_weight(0.0);
  cut.routed_tokens = 8;
  cut.reached_tokens = 0;
  result.routing = {{1, stats_with_weight(0.125)}, {3, stats_with_weight(0.3)}, {5, cut}};
  const std::vector<std::string> warnings = result.routing_warnings();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("block 1: the experts' outputs reach the residual at a mean weight "
                             "of 0.125 per token (mean top gate 0.125, 0% of the assignments "
                             "dropped)"),
            std::string::npos)
      << warnings[0];
  // Soft layers (no assignments) are never judged by gates.
  RoutingStats soft;
  soft.expert_load = soft.expert_requested = torch::ones({8}, torch::kDouble);
  EXPECT_FALSE(soft.contributes_little());
}

}  // namespace
}  // namespace moevit
