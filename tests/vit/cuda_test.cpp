// The model on a CUDA device computes what it computes on the CPU: same logits, same routing,
// same auxiliary losses, same gradients, in every MoE mode. On the CPU the MoE layer runs its
// packed-row kernels; on CUDA the padded [E, C] layout through LibTorch's own ops, so this is the
// test that the two layouts agree end to end. Skipped where the LibTorch or the machine has no GPU.
#include <ATen/Context.h>
#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "moe/routing_stats.h"
#include "ops/autocast.h"
#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

// The tests' tiny model in RGB with 16 tokens of width 16, drops in token choice (k = 2 at
// capacity 0.5), every aux loss, and an MoE layer in every block.
ModelConfig tiny_config(RouterKind router) {
  ModelConfig config = testing::tiny_model_config(router);
  config.patch_size = 2;
  config.channels = 3;
  config.dim = 16;
  config.mlp_dim = 32;
  config.num_classes = 5;
  if (router != RouterKind::kSoft) config.moe.experts_per_token = 2;
  config.moe.noise_std = 0.0;  // the CPU and CUDA generators draw different noise
  config.moe.capacity_factor = 0.5;
  config.moe.eval_capacity_factor = 0.5;
  config.moe.loss_weights.switch_balance = 0.01;
  config.moe.loss_weights.z_loss = 0.001;
  config.placement.every = 1;
  return config;
}

class OnCuda : public ::testing::TestWithParam<RouterKind> {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device in this build or machine";
    // fp32 on both sides: cuDNN's convolution (the patch stem) would otherwise use TF32.
    tf32_cudnn_ = at::globalContext().allowTF32CuDNN();
    tf32_cublas_ = at::globalContext().allowTF32CuBLAS();
    at::globalContext().setAllowTF32CuDNN(false);
    at::globalContext().setAllowTF32CuBLAS(false);
    changed_tf32_ = true;
  }
  void TearDown() override {
    if (!changed_tf32_) return;
    at::globalContext().setAllowTF32CuDNN(tf32_cudnn_);
    at::globalContext().setAllowTF32CuBLAS(tf32_cublas_);
  }
  // Every block routes in the MoE modes (placement every 1), none in dense.
  size_t moe_layers() const {
    return GetParam() == RouterKind::kDense ? 0
                                            : static_cast<size_t>(tiny_config(GetParam()).depth);
  }

 private:
  bool changed_tf32_ = false, tf32_cudnn_ = false, tf32_cublas_ = false;
};

void expect_close(const torch::Tensor& cuda, const torch::Tensor& cpu, const std::string& what) {
  const torch::Tensor back = cuda.to(torch::kCPU, torch::kFloat);
  EXPECT_TRUE(torch::allclose(back, cpu.to(torch::kFloat), 1e-4, 1e-5))
      << what << ": max |cuda - cpu| = " << (back - cpu).abs().max().item<float>();
}

TEST_P(OnCuda, TrainingStepMatchesTheCpu) {
  const ModelConfig config = tiny_config(GetParam());
  torch::manual_seed(0);
  VisionTransformer on_cpu(config);
  torch::manual_seed(0);
  VisionTransformer on_cuda(config);  // same seed, same CPU init: the same weights
  on_cuda->to(torch::kCUDA);

  const torch::Tensor images = torch::randn({6, 3, 8, 8});
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3, 4, 0});
  const auto run = [&](VisionTransformer& model, torch::Device device) {
    model->train();
    const VitOutput out = model->forward(images.to(device), /*keep_routing=*/true);
    const torch::Tensor loss =
        torch::cross_entropy_loss(out.logits, labels.to(device)) + out.aux.total;
    loss.backward();
    return out;
  };
  const VitOutput cpu_out = run(on_cpu, torch::kCPU);
  const VitOutput cuda_out = run(on_cuda, torch::kCUDA);

  expect_close(cuda_out.logits, cpu_out.logits, "logits");
  expect_close(cuda_out.aux.total, cpu_out.aux.total, "aux loss");
  ASSERT_EQ(cpu_out.routing.size(), moe_layers());
  ASSERT_EQ(cuda_out.routing.size(), moe_layers());
  for (size_t layer = 0; layer < cpu_out.routing.size(); ++layer) {
    const RoutingStats cpu_stats = routing_stats(cpu_out.routing[layer].routing.plan);
    const RoutingStats cuda_stats = routing_stats(cuda_out.routing[layer].routing.plan);
    EXPECT_EQ(cuda_stats.dropped, cpu_stats.dropped) << "layer " << layer;
    expect_close(cuda_stats.expert_load, cpu_stats.expert_load, "expert load");
  }
  const auto cpu_params = on_cpu->named_parameters();
  const auto cuda_params = on_cuda->named_parameters();
  for (const auto& item : cpu_params) {
    const torch::Tensor& cuda_param = cuda_params[item.key()];
    EXPECT_TRUE(cuda_param.is_cuda()) << item.key();
    if (!item.value().grad().defined()) continue;
    expect_close(cuda_param.grad(), item.value().grad(), "gradient of " + item.key());
  }
}

// bf16 autocast, as `run.precision: bf16` uses it on a GPU: the step runs, stays finite and near
// the fp32 result, and the router's probabilities stay fp32.
TEST_P(OnCuda, Bf16AutocastStaysNearFp32) {
  const ModelConfig config = tiny_config(GetParam());
  torch::manual_seed(0);
  VisionTransformer model(config);
  model->to(torch::kCUDA);
  model->eval();
  const torch::Tensor images = torch::randn({6, 3, 8, 8}).cuda();
  const torch::Tensor fp32_logits = model->forward(images).logits;

  VitOutput out;
  {
    const Bf16AutocastScope autocast(/*cuda=*/true, /*enabled=*/true);
    out = model->forward(images, /*keep_routing=*/true);
    out.logits.sum().backward();
  }

  EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
  const double scale = fp32_logits.abs().max().item<double>() + 1.0;
  EXPECT_LT((out.logits.to(torch::kFloat) - fp32_logits).abs().max().item<double>(), 0.05 * scale);
  ASSERT_EQ(out.routing.size(), moe_layers());
  for (const LayerRouting& layer : out.routing)
    EXPECT_EQ(layer.routing.plan.combine_weight.scalar_type(), torch::kFloat)
        << "block " << layer.block;
  for (const auto& param : model->parameters()) {
    if (!param.grad().defined()) continue;
    EXPECT_TRUE(torch::isfinite(param.grad()).all().item<bool>());
  }
}

INSTANTIATE_TEST_SUITE_P(EveryMode, OnCuda,
                         ::testing::Values(RouterKind::kDense, RouterKind::kTopK,
                                           RouterKind::kPriority, RouterKind::kSoft),
                         [](const auto& info) { return to_string(info.param); });

}  // namespace
}  // namespace moevit
