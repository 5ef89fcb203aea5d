#include "app/perf/layer_benchmark.h"

#include <torch/torch.h>

#include <functional>
#include <stdexcept>
#include <string>

#include "moe/dispatch_plan.h"
#include "moe/moe_layer.h"
#include "vit/attention.h"
#include "vit/mlp.h"

namespace moevit {

namespace {

using Outputs = std::vector<torch::Tensor>;

// Mean milliseconds of forward() followed by backward against fixed random gradients (drawn
// once, so the timed loop holds only the work under test). Outputs that need no gradient, like
// an aux loss with weight 0, are left out of the backward.
double forward_backward_ms(const std::function<Outputs()>& forward, const Runtime& runtime,
                           const BenchOptions& options) {
  const auto differentiable = [](const Outputs& outputs) {
    Outputs kept;
    for (const torch::Tensor& output : outputs)
      if (output.defined() && output.requires_grad()) kept.push_back(output);
    return kept;
  };
  Outputs gradients;
  for (const torch::Tensor& output : differentiable(forward()))
    gradients.push_back(torch::randn_like(output));
  const auto step = [&] {
    const Outputs outputs = differentiable(forward());
    torch::autograd::backward(outputs, gradients);
  };
  return 1e3 * seconds_per_call(step, runtime, options);
}

torch::Tensor leaf(const torch::Tensor& tensor) {
  return tensor.detach().requires_grad_();
}

// One round: every part timed once, in a fixed order.
LayerPartTimes measure_layer_parts_once(const ModelConfig& config, const Runtime& runtime,
                                        const BenchOptions& options) {
  torch::manual_seed(0);
  const auto on_device = torch::TensorOptions().device(runtime.device);
  const torch::Tensor tokens =
      torch::randn({options.batch_size, config.num_tokens(), config.dim}, on_device)
          .requires_grad_();
  AutocastScope autocast(runtime);
  LayerPartTimes times;

  Attention attention(config.dim, config.heads);
  Mlp dense_ffn(config.dim, config.mlp_dim);
  attention->to(runtime.device);
  dense_ffn->to(runtime.device);
  times.attention_ms =
      forward_backward_ms([&] { return Outputs{attention->forward(tokens)}; }, runtime, options);
  times.dense_ffn_ms =
      forward_backward_ms([&] { return Outputs{dense_ffn->forward(tokens)}; }, runtime, options);
  if (config.moe.router == RouterKind::kDense) return times;

  MoeLayer layer(config.moe, config.dim, config.expert_mlp_dim(), config.num_tokens());
  layer->to(runtime.device);
  layer->train();
  times.moe_layer_ms = forward_backward_ms(
      [&] {
        MoeLayerOutput output = layer->forward(tokens);
        return Outputs{output.output, output.routing.aux.total};
      },
      runtime, options);
  times.router_ms = forward_backward_ms(
      [&] {
        RouterOutput routing = layer->route(layer->group_tokens(tokens));
        return Outputs{routing.plan.dispatch_weight, routing.plan.combine_weight,
                       routing.aux.total};
      },
      runtime, options);

  // The remaining steps run on one fixed plan whose weights are leaves, so each step's backward
  // stops at its own inputs.
  const torch::Tensor groups = leaf(layer->group_tokens(tokens));
  DispatchPlan plan;
  {
    torch::NoGradGuard no_grad;
    plan = layer->route(groups).plan;
  }
  if (plan.is_soft()) {
    plan.dispatch_weight = leaf(plan.dispatch_weight);
    plan.combine_weight = leaf(plan.combine_weight);
  } else {
    plan.combine_weight = leaf(plan.combine_weight);
  }
  times.dispatch_ms =
      forward_backward_ms([&] { return Outputs{dispatch(plan, groups)}; }, runtime, options);
  const torch::Tensor buffers = leaf(dispatch(plan, groups));
  times.experts_ms = forward_backward_ms(
      [&] { return Outputs{layer->experts->forward(buffers, plan.rows_per_expert)}; }, runtime,
      options);
  const torch::Tensor expert_outputs = leaf(layer->experts->forward(buffers, plan.rows_per_expert));
  times.combine_ms =
      forward_backward_ms([&] { return Outputs{combine(plan, expert_outputs)}; }, runtime, options);
  return times;
}

// Rounds of the whole set of parts; each part keeps its fastest round.
constexpr int kRounds = 3;

}  // namespace

LayerPartTimes measure_layer_parts(const ModelConfig& config, const Runtime& runtime,
                                   const BenchOptions& options) {
  // A shared machine's speed drifts by tens of percent over seconds; timing the dense FFN and
  // the MoE layer in interleaved rounds and keeping each one's best round makes their ratio
  // compare like with like.
  LayerPartTimes best = measure_layer_parts_once(config, runtime, options);
  for (int round = 1; round < kRounds; ++round) {
    const LayerPartTimes times = measure_layer_parts_once(config, runtime, options);
    for (auto field :
         {&LayerPartTimes::attention_ms, &LayerPartTimes::dense_ffn_ms, &LayerPartTimes::router_ms,
          &LayerPartTimes::dispatch_ms, &LayerPartTimes::experts_ms, &LayerPartTimes::combine_ms,
          &LayerPartTimes::moe_layer_ms})
      best.*field = std::min(best.*field, times.*field);
  }
  return best;
}

std::vector<std::pair<int64_t, double>> moe_over_dense_by_experts(
    const ModelConfig& config, const Runtime& runtime, const BenchOptions& options,
    const std::vector<int64_t>& expert_counts) {
  if (config.moe.router == RouterKind::kDense)
    throw std::invalid_argument(
        "bench: --experts needs a config with moe.router topk, priority or soft");
  std::vector<std::pair<int64_t, double>> ratios;
  for (const int64_t experts : expert_counts) {
    ModelConfig scaled = config;
    scaled.moe.num_experts = experts;
    scaled.moe.slots_per_expert = 0;  // soft: slots follow E, so E·slots stays ≈ the tokens
    check_moe_options(scaled.moe);    // e.g. refuses k > E with the key named
    ratios.emplace_back(experts, measure_layer_parts(scaled, runtime, options).moe_over_dense());
  }
  return ratios;
}

}  // namespace moevit
