#include "moe/moe_layer.h"

#include <cmath>
#include <numeric>
#include <stdexcept>

#include "moe/capacity.h"
#include "moe/autocast.h"
#include "moe/dispatch_plan.h"
#include "moe/gating.h"
#include "moe/soft_router.h"
#include "moe/token_choice_router.h"

namespace moevit {

int64_t resolve_slots_per_expert(const MoeOptions& options, int64_t tokens_per_image) {
  if (options.slots_per_expert > 0) return options.slots_per_expert;
  // Soft-MoE default: total slots ≈ tokens of one image (vmoe soft_moe: round(S / E)).
  const double slots = std::round(static_cast<double>(tokens_per_image) / options.num_experts);
  return std::max<int64_t>(1, static_cast<int64_t>(slots));
}

MoeLayerImpl::MoeLayerImpl(const MoeOptions& options, int64_t dim, int64_t hidden_dim,
                           int64_t tokens_per_image)
    : options_(options) {
  check_moe_options(options);
  if (options.router == RouterKind::kDense)
    throw std::invalid_argument("moe.router: an MoE layer needs topk, priority or soft, got dense");
  const int64_t num_experts = options.num_experts;
  if (options.router == RouterKind::kSoft) {
    slots_per_expert_ = resolve_slots_per_expert(options, tokens_per_image);
    // φ ~ N(0, 1/D) (LeCun normal, as vmoe's soft router); only its direction matters.
    phi = register_parameter("phi", torch::randn({dim, num_experts * slots_per_expert_}) /
                                        std::sqrt(static_cast<double>(dim)));
    scale = register_parameter("scale", torch::ones({}));
  } else {
    router_weight = register_parameter("router_weight", torch::randn({dim, num_experts}) * 0.02);
  }
  experts = register_module("experts", Experts(num_experts, dim, hidden_dim));
}

void MoeLayerImpl::set_eval_capacity_factor(double factor) {
  if (!(factor > 0))
    throw std::invalid_argument("moe.eval_capacity_factor: expected a number > 0, got " +
                                std::to_string(factor));
  options_.eval_capacity_factor = factor;
}

int64_t MoeLayerImpl::capacity(int64_t tokens_per_group) const {
  const double factor = is_training() ? options_.capacity_factor : options_.eval_capacity_factor;
  return compute_capacity(tokens_per_group, options_.experts_per_token, factor,
                          options_.num_experts, options_.capacity_multiple);
}

bool MoeLayerImpl::uses_batch_priority() const {
  if (options_.router != RouterKind::kPriority) return false;
  switch (options_.priority_at) {
    case PriorityAt::kBoth:
      return true;
    case PriorityAt::kTrain:
      return is_training();
    case PriorityAt::kEval:
      return !is_training();
  }
  return false;
}

int64_t MoeLayerImpl::images_per_group(int64_t batch_size) const {
  return std::gcd(batch_size, std::min(options_.group_size, batch_size));
}

torch::Tensor MoeLayerImpl::group_tokens(const torch::Tensor& inputs) const {
  TORCH_CHECK(inputs.dim() == 3, "MoeLayer: expected tokens [B,N,D], got ", inputs.sizes());
  const int64_t batch = inputs.size(0), tokens = inputs.size(1), width = inputs.size(2);
  const int64_t group_images = images_per_group(batch);
  return inputs.reshape({batch / group_images, group_images * tokens, width});  // [G,S,D]
}

RouterOutput MoeLayerImpl::route(const torch::Tensor& groups) {
  if (options_.router == RouterKind::kSoft)
    return route_soft(soft_router_logits(groups, phi, scale), options_.num_experts,
                      slots_per_expert_);
  TokenChoiceRouting routing;
  routing.experts_per_token = options_.experts_per_token;
  routing.capacity = capacity(groups.size(1));
  routing.batch_priority = uses_batch_priority();
  routing.renormalize_gates = options_.renormalize_gates;
  routing.gate_scale = options_.gate_scale;
  routing.noise_std = options_.noise_std;
  routing.loss_weights = options_.loss_weights;
  // On CPU in fp32 the experts take only the filled slots: with capacity rounding and drops,
  // ~10-40% fewer rows than the padded buffers. Not under bf16 autocast: there the per-expert
  // products and casts made whole training steps slower (docs/performance.md).
  routing.layout =
      groups.is_cpu() && !cpu_autocast_enabled() ? RowLayout::kPacked : RowLayout::kPadded;
  if (options_.balance_scope == BalanceScope::kGlobal && is_training()) {
    if (count_reducer_)
      routing.count_reducer = count_reducer_;
    else  // no trainer's reducer (one process, no accumulation): the global batch is this one
      routing.count_reducer = [](const at::Tensor& counts) { return counts; };
  }
  return route_token_choice(router_logits_fp32(groups, router_weight), routing, is_training());
}

MoeLayerOutput MoeLayerImpl::forward(const torch::Tensor& inputs) {
  const torch::Tensor groups = group_tokens(inputs);
  MoeLayerOutput output;
  output.routing = route(groups);
  const DispatchPlan& plan = output.routing.plan;
  output.output = combine(plan, experts->forward(dispatch(plan, groups), plan.rows_per_expert))
                      .reshape(inputs.sizes());
  return output;
}

}  // namespace moevit
