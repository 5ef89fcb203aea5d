// Per-part timings of one transformer block at a config's shapes (forward + backward), and the
// MoE layer's cost next to the dense FFN it replaces: the numbers behind "MoE cost follows the
// active parameters, not the total" (docs/performance.md).
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "app/perf/benchmark.h"
#include "app/run/runtime.h"
#include "vit/model_config.h"

namespace moevit {

// Milliseconds per forward + backward over a batch of `BenchOptions::batch_size` images, each
// part the best of three interleaved rounds.
struct LayerPartTimes {
  double attention_ms = 0;  // one block's self-attention
  double dense_ffn_ms = 0;  // a dense MLP of the experts' hidden width
  // The MoE layer of the config (all 0 for a dense config): each step timed apart on inputs
  // detached from the step before, then the layer whole (which includes the token grouping).
  double router_ms = 0;    // logits, softmax/top-k or soft weights, slot claims, aux losses
  double dispatch_ms = 0;  // tokens → [E, G·C, D] expert buffers
  double experts_ms = 0;   // the batched expert MLPs
  double combine_ms = 0;   // buffers → tokens, weighted
  double moe_layer_ms = 0;

  bool has_moe() const { return moe_layer_ms > 0; }
  double moe_over_dense() const { return dense_ffn_ms > 0 ? moe_layer_ms / dense_ffn_ms : 0.0; }
};

LayerPartTimes measure_layer_parts(const ModelConfig& config, const Runtime& runtime,
                                   const BenchOptions& options);

// (E, MoE layer ÷ dense FFN) for each expert count, everything else as in `config` but soft
// slots, which become automatic (round(tokens / E), at least 1) so that E·slots stays ≈ the
// tokens as E grows. `config` must have an MoE router.
std::vector<std::pair<int64_t, double>> moe_over_dense_by_experts(
    const ModelConfig& config, const Runtime& runtime, const BenchOptions& options,
    const std::vector<int64_t>& expert_counts);

}  // namespace moevit
