// Training-step and inference throughput of the Fashion-MNIST backbone (dim 192, 6 blocks,
// 49 tokens, batch 128) in each mode: forward + backward + AdamW, and forward alone.
//   build/moevit_bench --benchmark_filter=Step
#include <torch/torch.h>

#include "bench/bench_setup.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

constexpr int64_t kBatch = 128;

ModelConfig fmnist_backbone(RouterKind router) {
  ModelConfig config;  // defaults: 28×28×1, patch 4, dim 192, depth 6, heads 3, mlp 768
  config.moe.router = router;
  config.moe.num_experts = 8;
  config.moe.experts_per_token = 1;
  config.moe.slots_per_expert = 6;
  return config;
}

void BM_TrainStep(benchmark::State& state) {
  const std::optional<BenchTarget> target = bench_target(state);
  if (!target) return;
  torch::manual_seed(0);
  VisionTransformer model(fmnist_backbone(static_cast<RouterKind>(state.range(0))));
  model->to(target->device);
  // LibTorch's AdamW: this binary links the core only; `moevit bench` times the trainer's
  // FusedAdamW (app/train/fused_adamw.h).
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
  const torch::Tensor images = torch::randn({kBatch, 1, 28, 28}, target->device);
  const torch::Tensor labels =
      torch::randint(0, 10, {kBatch}, torch::TensorOptions(target->device).dtype(torch::kLong));
  model->train();
  for (auto _ : state) {
    {
      const Bf16AutocastScope autocast = target->autocast();
      const VitOutput output = model->forward(images);
      const torch::Tensor loss =
          torch::cross_entropy_loss(output.logits, labels) + output.aux.total;
      optimizer.zero_grad();
      loss.backward();
    }
    optimizer.step();
    target->finish_iteration();
  }
  state.counters["img/s"] = benchmark::Counter(static_cast<double>(kBatch) * state.iterations(),
                                               benchmark::Counter::kIsRate);
  state.SetLabel(to_string(static_cast<RouterKind>(state.range(0))));
}

void BM_Inference(benchmark::State& state) {
  const std::optional<BenchTarget> target = bench_target(state);
  if (!target) return;
  torch::manual_seed(0);
  VisionTransformer model(fmnist_backbone(static_cast<RouterKind>(state.range(0))));
  model->to(target->device);
  const torch::Tensor images = torch::randn({kBatch, 1, 28, 28}, target->device);
  model->eval();
  torch::NoGradGuard no_grad;
  for (auto _ : state) {
    const Bf16AutocastScope autocast = target->autocast();
    benchmark::DoNotOptimize(model->forward(images).logits);
    target->finish_iteration();
  }
  state.counters["img/s"] = benchmark::Counter(static_cast<double>(kBatch) * state.iterations(),
                                               benchmark::Counter::kIsRate);
  state.SetLabel(to_string(static_cast<RouterKind>(state.range(0))));
}

// Real time: img/s (a rate over the benchmark's time) must count the GPU's work too.
BENCHMARK(BM_TrainStep)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(3.0)
    ->UseRealTime();
BENCHMARK(BM_Inference)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

}  // namespace
}  // namespace moevit
