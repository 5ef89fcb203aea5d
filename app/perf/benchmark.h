// `moevit bench`: throughput of a config's model on synthetic inputs, and the machine's matrix-
// product peak measured in the same run, so achieved FLOP/s has something to be compared with.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "app/run/runtime.h"
#include "vit/model_config.h"

namespace moevit {

class VisionTransformerImpl;

struct BenchOptions {
  int64_t batch_size = 128;
  int64_t warmup_steps = 2;
  int64_t steps = 10;  // timed steps, averaged
  // If set: after the timing, `steps` more training steps run under LibTorch's profiler and
  // its Chrome trace (chrome://tracing, ui.perfetto.dev) is written here.
  std::string profile_path;
};

struct ThroughputResult {
  double train_images_per_second = 0;      // forward + backward + AdamW
  double inference_images_per_second = 0;  // forward, no gradients, eval mode
  // The same inference keeping every layer's routing plan (what heatmaps and eval's statistics
  // ask for); next to the number above it shows what collecting the statistics costs.
  double inference_with_routing_images_per_second = 0;
  double forward_flops_per_image = 0;  // matrix products only (see estimate_forward_flops)
};

// Matrix-product FLOPs of one image's forward pass: 2·(multiply-adds) of the patch embedding,
// qkv/projection, attention scores and mixing, dense FFNs, routers, and the experts' rows
// (k per token for token choice at capacity, E·C slots per image for soft), and the head.
double estimate_forward_flops(const ModelConfig& config);

// Mean seconds of one call() after options.warmup_steps untimed calls, over options.steps
// calls, the device synchronised before and after.
double seconds_per_call(const std::function<void()>& call, const Runtime& runtime,
                        const BenchOptions& options);

// `config`'s model (seeded) and a fused AdamW on `runtime`, as `train` builds them, taking one
// training step (forward under autocast, cross-entropy + aux losses, backward, AdamW) per call.
class BenchTrainer {
 public:
  BenchTrainer(const ModelConfig& config, const Runtime& runtime);
  ~BenchTrainer();
  void step(const torch::Tensor& images, const torch::Tensor& labels);
  VisionTransformerImpl& model();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Timed training steps and inference passes of `config`'s model under `runtime`.
ThroughputResult measure_throughput(const ModelConfig& config, const Runtime& runtime,
                                    const BenchOptions& options);

// GFLOP/s of a square matrix product chain (size × size) in the runtime's precision, best of a
// few repetitions: the machine's practical GEMM peak.
double measure_gemm_gflops(const Runtime& runtime, bool bf16, int64_t size = 1024);

}  // namespace moevit
