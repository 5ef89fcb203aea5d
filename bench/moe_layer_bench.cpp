// One MoE layer against the dense FFN it replaces, forward + backward, as the expert count grows
// (k and hidden width fixed): MoE cost should follow the active parameters, not the total.
// Shapes: Fashion-MNIST backbone (D 192, H 768, 49 tokens, batch 128) and ViT-S/16 at 224
// (D 384, H 1536, 196 tokens, batch 32).
//   build/moevit_bench --benchmark_filter='DenseFfn|MoeLayer'
// `moevit bench --config F --experts 8,32,128` prints the same ratio for any config.
#include <torch/torch.h>

#include "bench/bench_setup.h"
#include "moe/moe_layer.h"
#include "moe/slot_assignment.h"
#include "vit/mlp.h"

namespace moevit {
namespace {

struct LayerShape {
  int64_t batch, tokens, dim, hidden;
};
constexpr LayerShape kShapes[] = {{128, 49, 192, 768}, {32, 196, 384, 1536}};

// Times forward + backward of `layer` (a callable tokens → output) on random tokens; the
// Time column is milliseconds per forward + backward.
template <typename Layer>
void run_forward_backward(benchmark::State& state, const BenchTarget& target,
                          const LayerShape& shape, Layer&& layer) {
  const torch::Tensor tokens =
      torch::randn({shape.batch, shape.tokens, shape.dim}, target.device).requires_grad_();
  const torch::Tensor gradient =
      torch::randn({shape.batch, shape.tokens, shape.dim}, target.device);
  for (auto _ : state) {
    const Bf16AutocastScope autocast = target.autocast();
    layer(tokens).backward(gradient);
    target.finish_iteration();
  }
}

// Arg 0: shape index.
void BM_DenseFfn(benchmark::State& state) {
  const std::optional<BenchTarget> target = bench_target(state);
  if (!target) return;
  const LayerShape shape = kShapes[state.range(0)];
  Mlp ffn(shape.dim, shape.hidden);
  ffn->to(target->device);
  run_forward_backward(state, *target, shape,
                       [&](const torch::Tensor& x) { return ffn->forward(x); });
}

// Args: shape index, router (RouterKind), experts. Top-k at k = 1, capacity factor 1.0; soft
// with E·slots ≈ tokens of one image.
void BM_MoeLayer(benchmark::State& state) {
  const std::optional<BenchTarget> target = bench_target(state);
  if (!target) return;
  const LayerShape shape = kShapes[state.range(0)];
  MoeOptions options;
  options.router = static_cast<RouterKind>(state.range(1));
  options.num_experts = state.range(2);
  options.experts_per_token = 1;
  options.capacity_factor = 1.0;
  MoeLayer layer(options, shape.dim, shape.hidden, shape.tokens);
  layer->to(target->device);
  layer->train();
  run_forward_backward(state, *target, shape, [&](const torch::Tensor& x) {
    const MoeLayerOutput output = layer->forward(x);
    return output.output + 0 * output.routing.aux.total;  // the aux loss's backward counts too
  });
  state.SetLabel(to_string(options.router) + " E=" + std::to_string(options.num_experts));
}

// The router alone (logits → plan + aux losses), forward + backward through the combine weights
// and the aux loss. Args: shape index, router (RouterKind); E = 8, k = 1, capacity factor 1.0.
void BM_Router(benchmark::State& state) {
  const std::optional<BenchTarget> target = bench_target(state);
  if (!target) return;
  const LayerShape shape = kShapes[state.range(0)];
  MoeOptions options;
  options.router = static_cast<RouterKind>(state.range(1));
  options.capacity_factor = 1.0;
  MoeLayer layer(options, shape.dim, shape.hidden, shape.tokens);
  layer->to(target->device);
  layer->train();
  const torch::Tensor groups =
      layer->group_tokens(torch::randn({shape.batch, shape.tokens, shape.dim}, target->device))
          .requires_grad_();
  for (auto _ : state) {
    const Bf16AutocastScope autocast = target->autocast();
    const RouterOutput routing = layer->route(groups);
    (routing.plan.combine_weight.sum() + routing.aux.total).backward();
    target->finish_iteration();
  }
  state.SetLabel(to_string(options.router));
}
BENCHMARK(BM_Router)
    ->ArgsProduct({{0, 1},
                   {static_cast<int64_t>(RouterKind::kTopK),
                    static_cast<int64_t>(RouterKind::kPriority),
                    static_cast<int64_t>(RouterKind::kSoft)}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0)
    ->UseRealTime();

// Slot assignment alone, the CPU loop against the tensor-op count it replaced on CPU (the path
// off the CPU), on the shipped Fashion-MNIST routing shape: 64 one-image groups of 49 tokens,
// k = 1, E = 8, with (BPR) and without a priority order. Args: 0 loop / 1 tensor ops,
// prioritised 0/1.
void BM_AssignSlots(benchmark::State& state) {
  use_every_core();
  torch::manual_seed(0);
  const torch::Tensor expert_index = torch::randint(0, 8, {64, 49, 1}, torch::kLong);
  const torch::Tensor order = state.range(1)
                                  ? torch::rand({64, 49}).argsort(/*dim=*/1, /*descending=*/true)
                                  : torch::Tensor();
  for (auto _ : state)
    benchmark::DoNotOptimize(state.range(0) ? assign_slots_by_tensor_ops(expert_index, 8, order)
                                            : assign_slots(expert_index, 8, order));
  state.SetLabel(std::string(state.range(0) ? "tensor ops" : "loop") +
                 (state.range(1) ? ", priority" : ""));
}
BENCHMARK(BM_AssignSlots)->ArgsProduct({{0, 1}, {0, 1}})->Unit(benchmark::kMicrosecond);

BENCHMARK(BM_DenseFfn)
    ->DenseRange(0, 1)
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();
BENCHMARK(BM_MoeLayer)
    ->ArgsProduct({{0, 1},
                   {static_cast<int64_t>(RouterKind::kTopK),
                    static_cast<int64_t>(RouterKind::kSoft)},
                   {8, 32, 128}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(2.0)
    ->UseRealTime();

}  // namespace
}  // namespace moevit
