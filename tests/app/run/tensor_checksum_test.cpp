#include "app/run/tensor_checksum.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "app/run/config.h"
#include "app/run/optimizer_state_key.h"
#include "app/train/optimizer_setup.h"
#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

TEST(TensorChecksum, IsTheCrc32OfEachNameDtypeShapeAndBytesInTurn) {
  // Expected values: Python's zlib.crc32 over the same bytes, e.g. for the first
  // b"w\0Float\0" + struct.pack("<qq", 1, 2) + struct.pack("<2f", 1, 2).
  TensorChecksum checksum;
  EXPECT_EQ(checksum.value(), 0u);
  checksum.add("w", torch::tensor({1.0f, 2.0f}));
  EXPECT_EQ(checksum.value(), 0x9f804ffbu);
  checksum.add("step", int64_t{3});  // + b"step\0int64\0" + struct.pack("<q", 3)
  EXPECT_EQ(checksum.value(), 0xcf81542du);
  checksum.add("m", torch::Tensor());  // + b"m\0undefined\0"
  EXPECT_EQ(checksum.value(), 0x3a7d7655u);
}

TEST(TensorChecksum, CountsTheDtypeAndReadsStridedTensorsRowMajor) {
  TensorChecksum as_double, strided;
  as_double.add("w", torch::tensor({1.0, 2.0}, torch::kFloat64));
  EXPECT_EQ(as_double.value(), 0x6cb27d89u);  // the same values as Double: another checksum
  strided.add("w", torch::tensor({1.0f, 0.0f, 2.0f}).slice(0, 0, 3, 2));  // {1, 2}, stride 2
  EXPECT_EQ(strided.value(), 0x9f804ffbu);
}

TEST(TensorChecksum, ModuleChecksumFollowsEveryWeight) {
  const ModelConfig config = testing::tiny_model_config(RouterKind::kTopK);
  torch::manual_seed(0);
  VisionTransformer original(config), copy(config);
  EXPECT_NE(module_checksum(*original), module_checksum(*copy));
  torch::NoGradGuard no_grad;
  const auto parameters = original->named_parameters();
  for (auto& item : copy->named_parameters()) item.value().copy_(parameters[item.key()]);
  const auto buffers = original->named_buffers();
  for (auto& item : copy->named_buffers()) item.value().copy_(buffers[item.key()]);
  EXPECT_EQ(module_checksum(*original), module_checksum(*copy));
  copy->named_parameters()["head.bias"][0] += 1;
  EXPECT_NE(module_checksum(*original), module_checksum(*copy));
}

TEST(TensorChecksum, OptimizerChecksumFollowsStepsAndMoments) {
  torch::manual_seed(0);
  VisionTransformer model(testing::tiny_model_config(RouterKind::kTopK));
  auto optimizer = make_adamw(*model, OptimConfig{});
  const uint32_t before_step = optimizer_checksum(*optimizer);
  model->forward(torch::randn({2, 1, 8, 8})).logits.sum().backward();
  optimizer->step();
  const uint32_t after_step = optimizer_checksum(*optimizer);
  EXPECT_NE(before_step, after_step);
  const torch::Tensor head_bias = model->named_parameters()["head.bias"];
  auto& state = static_cast<torch::optim::AdamWParamState&>(
      *optimizer->state().at(optimizer_state_key(optimizer->state(), head_bias)));
  torch::NoGradGuard no_grad;
  state.exp_avg_sq()[0] += 1;
  EXPECT_NE(optimizer_checksum(*optimizer), after_step);
  state.exp_avg_sq()[0] -= 1;
  state.step(state.step() + 1);
  EXPECT_NE(optimizer_checksum(*optimizer), after_step);
}

}  // namespace
}  // namespace moevit
