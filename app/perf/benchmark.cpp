#include "app/perf/benchmark.h"

#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>

#include "app/train/fused_adamw.h"
#include "app/train/optimizer_setup.h"
#include "moe/capacity.h"
#include "moe/moe_layer.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void synchronize(const Runtime& runtime) {
  if (runtime.device.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

double seconds_per_call(const std::function<void()>& call, const Runtime& runtime,
                        const BenchOptions& options) {
  for (int64_t i = 0; i < options.warmup_steps; ++i) call();
  synchronize(runtime);
  const auto start = Clock::now();
  for (int64_t i = 0; i < options.steps; ++i) call();
  synchronize(runtime);
  return seconds_since(start) / static_cast<double>(options.steps);
}

namespace {

// Seeded, so every bench of a config times the same weights.
VisionTransformer seeded_model(const ModelConfig& config, const Runtime& runtime) {
  torch::manual_seed(0);
  VisionTransformer model(config);
  model->to(runtime.device);
  return model;
}

}  // namespace

struct BenchTrainer::State {
  State(const ModelConfig& config, const Runtime& runtime_)
      : model(seeded_model(config, runtime_)),
        optimizer(model->parameters(), torch::optim::AdamWOptions(1e-4)),  // as `train`
        runtime(runtime_) {}
  VisionTransformer model;
  FusedAdamW optimizer;
  Runtime runtime;
};

BenchTrainer::BenchTrainer(const ModelConfig& config, const Runtime& runtime)
    : state_(std::make_unique<State>(config, runtime)) {}

BenchTrainer::~BenchTrainer() = default;

void BenchTrainer::step(const torch::Tensor& images, const torch::Tensor& labels) {
  torch::Tensor loss;
  {
    AutocastScope autocast(state_->runtime);
    const VitOutput output = state_->model->forward(images);
    loss = torch::cross_entropy_loss(output.logits.to(torch::kFloat), labels) + output.aux.total;
  }
  clear_gradients(state_->optimizer);
  loss.backward();
  state_->optimizer.step();
}

VisionTransformerImpl& BenchTrainer::model() {
  return *state_->model;
}

double estimate_forward_flops(const ModelConfig& config) {
  const double tokens = static_cast<double>(config.num_tokens());
  const double patches = static_cast<double>(config.num_patches());
  const double width = static_cast<double>(config.dim),
               hidden = static_cast<double>(config.mlp_dim);
  const double patch_pixels =
      static_cast<double>(config.channels * config.patch_size * config.patch_size);
  double multiply_adds = patches * patch_pixels * width;   // patch embedding
  const double attention = tokens * 4 * width * width      // qkv + projection
                           + 2 * tokens * tokens * width;  // scores + mixing
  const double ffn_per_row = 2 * width * hidden;
  const double expert_per_row = 2 * width * static_cast<double>(config.expert_mlp_dim());
  const std::vector<int64_t> moe_blocks = moe_block_ids(config);
  const MoeOptions& moe = config.moe;
  for (int64_t block = 0; block < config.depth; ++block) {
    multiply_adds += attention;
    const bool is_moe = std::find(moe_blocks.begin(), moe_blocks.end(), block) != moe_blocks.end();
    if (!is_moe) {
      multiply_adds += tokens * ffn_per_row;
    } else if (moe.router == RouterKind::kSoft) {
      const double slots =
          static_cast<double>(moe.num_experts * resolve_slots_per_expert(moe, config.num_tokens()));
      // logits, dispatch and combine are each tokens × slots × width, plus the slot rows.
      multiply_adds += 3 * tokens * slots * width + slots * expert_per_row;
    } else {
      const double capacity = static_cast<double>(
          compute_capacity(config.num_tokens(), moe.experts_per_token, moe.eval_capacity_factor,
                           moe.num_experts, moe.capacity_multiple));
      multiply_adds += tokens * width * moe.num_experts  // router
                       + moe.num_experts * capacity * expert_per_row;
    }
  }
  multiply_adds += width * config.num_classes;  // head
  return 2 * multiply_adds;
}

ThroughputResult measure_throughput(const ModelConfig& config, const Runtime& runtime,
                                    const BenchOptions& options) {
  BenchTrainer trainer(config, runtime);
  VisionTransformerImpl& model = trainer.model();
  const auto on_device = torch::TensorOptions().device(runtime.device);
  const torch::Tensor images = torch::randn(
      {options.batch_size, config.channels, config.image_size, config.image_size}, on_device);
  const torch::Tensor labels =
      torch::randint(0, config.num_classes, {options.batch_size}, on_device.dtype(torch::kLong));
  const auto train_step = [&] { trainer.step(images, labels); };
  const auto infer = [&](bool keep_routing) {
    return [&, keep_routing] {
      torch::NoGradGuard no_grad;
      AutocastScope autocast(runtime);
      model.forward(images, keep_routing);
    };
  };
  const auto images_per_second = [&](const std::function<void()>& step) {
    return static_cast<double>(options.batch_size) / seconds_per_call(step, runtime, options);
  };
  ThroughputResult result;
  model.train();
  result.train_images_per_second = images_per_second(train_step);
  if (!options.profile_path.empty()) {
    torch::autograd::profiler::RecordProfile profile(options.profile_path);
    for (int64_t i = 0; i < options.steps; ++i) train_step();
  }
  model.eval();
  // Interleaved, best of two each: the first inference passes after training run slower
  // (memory is reshaped from training to inference sizes), which would otherwise show up as a
  // cost of whichever variant ran first.
  for (int round = 0; round < 2; ++round) {
    result.inference_images_per_second = std::max(result.inference_images_per_second,
                                                  images_per_second(infer(/*keep_routing=*/false)));
    result.inference_with_routing_images_per_second =
        std::max(result.inference_with_routing_images_per_second,
                 images_per_second(infer(/*keep_routing=*/true)));
  }
  result.forward_flops_per_image = estimate_forward_flops(config);
  return result;
}

double measure_gemm_gflops(const Runtime& runtime, bool bf16, int64_t size) {
  const auto options =
      torch::TensorOptions().device(runtime.device).dtype(bf16 ? torch::kBFloat16 : torch::kFloat);
  const torch::Tensor a = torch::randn({size, size}, options) / std::sqrt(size);
  torch::Tensor b = torch::randn({size, size}, options) / std::sqrt(size);
  constexpr int kProducts = 8, kRepetitions = 3;
  double best = 0;
  for (int repetition = 0; repetition <= kRepetitions; ++repetition) {
    synchronize(runtime);
    const auto start = Clock::now();
    for (int i = 0; i < kProducts; ++i) b = torch::matmul(a, b);
    synchronize(runtime);
    const double seconds = seconds_since(start);
    if (repetition > 0)  // the first is warm-up
      best = std::max(best, kProducts * 2.0 * size * size * size / seconds / 1e9);
  }
  return best;
}

}  // namespace moevit
