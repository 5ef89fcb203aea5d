#include "app/run/checkpoint.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "app/run/config.h"
#include "app/run/model_loading.h"
#include "app/train/fused_adamw.h"
#include "app/train/optimizer_setup.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"
#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

using testing::TempDir;

ModelConfig small_model() {
  return testing::tiny_model_config(RouterKind::kTopK);
}

TEST(Checkpoint, RoundTripIsBitwiseForWeightsOptimizerAndState) {
  TempDir dir;
  torch::manual_seed(0);
  VisionTransformer model(small_model());
  OptimConfig optim;
  auto optimizer = make_adamw(*model, optim);
  // One real step, so the optimizer has moments to save.
  model->forward(torch::randn({2, 1, 8, 8})).logits.sum().backward();
  optimizer->step();
  CheckpointState state;
  state.config_yaml = "model:\n  dim: 8\n";
  state.class_names = {"cat", "dog", "emu"};
  state.epoch = 3;
  state.step = 42;
  state.batches_into_epoch = 5;
  state.best_top1 = 0.75;
  state.rng_state = at::detail::getDefaultCPUGenerator().get_state();
  save_checkpoint(dir / "last.pt", *model, optimizer.get(), state);

  const CheckpointState read = read_checkpoint_state(dir / "last.pt");
  EXPECT_EQ(read.config_yaml, state.config_yaml);
  EXPECT_EQ(read.class_names, state.class_names);
  EXPECT_EQ(read.epoch, 3);
  EXPECT_EQ(read.step, 42);
  EXPECT_EQ(read.batches_into_epoch, 5);
  EXPECT_DOUBLE_EQ(read.best_top1, 0.75);
  EXPECT_TRUE(torch::equal(read.rng_state, state.rng_state));

  torch::manual_seed(99);
  VisionTransformer restored(small_model());
  auto restored_optimizer = make_adamw(*restored, optim);
  load_checkpoint_weights(dir / "last.pt", *restored, restored_optimizer.get());
  const auto original = model->named_parameters(), loaded = restored->named_parameters();
  for (const auto& item : original)
    EXPECT_TRUE(torch::equal(item.value(), loaded[item.key()])) << item.key();
  // Optimizer state, parameter by parameter (LibTorch keys it by the tensor's address).
  const auto state_of = [](torch::optim::Optimizer& optim, const torch::Tensor& parameter) {
    const auto key = optimizer_state_key(optim.state(), parameter);
    return static_cast<torch::optim::AdamWParamState&>(*optim.state().at(key));
  };
  for (const auto& item : original) {
    const auto& before = state_of(*optimizer, item.value());
    const auto& after = state_of(*restored_optimizer, loaded[item.key()]);
    EXPECT_EQ(before.step(), after.step());
    EXPECT_TRUE(torch::equal(before.exp_avg(), after.exp_avg())) << item.key();
    EXPECT_TRUE(torch::equal(before.exp_avg_sq(), after.exp_avg_sq())) << item.key();
  }
}

TEST(Checkpoint, LoadedModelHoldsEveryParameterAndBufferOfTheSavedOne) {
  // load_model skips the training init (WeightInit::kOverwrittenByCheckpoint), so every value
  // of the rebuilt model must come from the file: any tensor left out would differ here.
  TempDir dir;
  const Config config =
      parse_config(testing::tiny_config_yaml(dir.path(), dir / "out", "priority"), "tiny.yaml", {});
  torch::manual_seed(0);
  VisionTransformer model(config.model);
  CheckpointState state;
  state.config_yaml = dump_config(config);
  for (int64_t i = 0; i < config.model.num_classes; ++i)
    state.class_names.push_back("class" + std::to_string(i));
  save_checkpoint(dir / "best.pt", *model, nullptr, state);

  torch::manual_seed(99);
  const LoadedModel loaded = load_model(dir / "best.pt", {});
  const auto saved = model->named_parameters(), restored = loaded.model->named_parameters();
  ASSERT_EQ(saved.size(), restored.size());
  for (const auto& item : saved)
    EXPECT_TRUE(torch::equal(item.value(), restored[item.key()])) << item.key();
  const auto saved_buffers = model->named_buffers();
  const auto restored_buffers = loaded.model->named_buffers();
  for (const auto& item : saved_buffers)
    EXPECT_TRUE(torch::equal(item.value(), restored_buffers[item.key()])) << item.key();
  EXPECT_FALSE(loaded.model->is_training());
}

TEST(Checkpoint, ClearErrorsForMissingForeignAndMismatchedFiles) {
  TempDir dir;
  EXPECT_NE(testing::error_message([&] {
              read_checkpoint_state(dir / "none.pt");
            }).find("none.pt: no such checkpoint file"),
            std::string::npos);
  testing::write_text(dir / "junk.pt", "not a zip archive");
  EXPECT_NE(testing::error_message([&] {
              read_checkpoint_state(dir / "junk.pt");
            }).find("junk.pt: not a readable moevit checkpoint"),
            std::string::npos);
  VisionTransformer model(small_model());
  save_checkpoint(dir / "small.pt", *model, nullptr, CheckpointState{});
  ModelConfig wider = small_model();
  wider.dim = 12;
  VisionTransformer other(wider);
  const std::string mismatch =
      testing::error_message([&] { load_checkpoint_weights(dir / "small.pt", *other, nullptr); });
  EXPECT_NE(mismatch.find("small.pt: weights do not fit"), std::string::npos) << mismatch;
}

}  // namespace
}  // namespace moevit
