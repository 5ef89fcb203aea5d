#include "moe/moe_layer.h"

#include <cmath>
#include <numeric>
#include <stdexcept>

#include "moe/bias_balance.h"
#include "moe/capacity.h"
#include "moe/dispatch_plan.h"
#include "moe/expert_choice_router.h"
#include "moe/gating.h"
#include "moe/soft_router.h"
#include "moe/token_choice_router.h"
#include "ops/autocast.h"

namespace moevit {

int64_t resolve_slots_per_expert(const MoeOptions& options, int64_t tokens_per_image) {
  if (options.slots_per_expert > 0) return options.slots_per_expert;
  // Soft-MoE default: total slots ≈ tokens of one image (vmoe soft_moe: round(S / E)).
  const double slots = std::round(static_cast<double>(tokens_per_image) / options.num_experts);
  return std::max<int64_t>(1, static_cast<int64_t>(slots));
}

int64_t shared_experts_width(const MoeOptions& options, int64_t expert_hidden_dim) {
  const int64_t width =
      options.shared_expert_mlp_dim > 0 ? options.shared_expert_mlp_dim : expert_hidden_dim;
  return options.shared_experts * width;
}

MoeLayerImpl::MoeLayerImpl(const MoeOptions& options, int64_t dim, int64_t hidden_dim,
                           int64_t tokens_per_image)
    : options_(options) {
  check_moe_options(options);
  if (options.router == RouterKind::kDense)
    throw std::invalid_argument(
        "moe.router: an MoE layer needs topk, priority, soft or expert_choice, got dense");
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
  if (options.balance == BalanceMethod::kBias)
    expert_bias = register_buffer("expert_bias", torch::zeros({num_experts}));
  experts = register_module("experts", Experts(num_experts, dim, hidden_dim));
  if (options.shared_experts > 0)
    shared_experts = register_module("shared_experts",
                                     Experts(1, dim, shared_experts_width(options, hidden_dim)));
}

void MoeLayerImpl::set_eval_capacity_factor(double factor) {
  if (!(factor >= 0))
    throw std::invalid_argument(
        "moe.eval_capacity_factor: expected a number >= 0 (0 = experts cut), got " +
        format_option_value(factor));
  options_.eval_capacity_factor = factor;
}

bool MoeLayerImpl::experts_cut() const {
  return !is_training() && options_.eval_capacity_factor == 0;
}

int64_t MoeLayerImpl::capacity(int64_t tokens_per_group) const {
  if (experts_cut()) return 0;
  const double factor = is_training() ? options_.capacity_factor : options_.eval_capacity_factor;
  // Expert Choice: C = ceil(S · factor / E); k does not enter (vmoe's items-per-expert router).
  const int64_t experts_per_token =
      options_.router == RouterKind::kExpertChoice ? 1 : options_.experts_per_token;
  return compute_capacity(tokens_per_group, experts_per_token, factor, options_.num_experts,
                          options_.capacity_multiple);
}

torch::Tensor MoeLayerImpl::take_chosen_counts() {
  torch::Tensor counts =
      chosen_counts_.defined() ? chosen_counts_ : torch::zeros({options_.num_experts}, at::kDouble);
  chosen_counts_ = torch::Tensor();
  return counts;
}

void MoeLayerImpl::update_expert_bias(const torch::Tensor& global_counts) {
  TORCH_CHECK(expert_bias.defined(), "update_expert_bias: the layer has no bias (moe.balance)");
  moevit::update_expert_bias(expert_bias, global_counts, options_.bias_rate);
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
  // On CPU in fp32 the experts take only the filled slots: with capacity rounding and drops,
  // ~10-40% fewer rows than the padded buffers. Not under bf16 autocast: there the per-expert
  // products and casts made whole training steps slower (docs/performance.md).
  const RowLayout layout =
      groups.is_cpu() && !cpu_autocast_enabled() ? RowLayout::kPacked : RowLayout::kPadded;
  const at::Tensor logits = router_logits_fp32(groups, router_weight);
  if (options_.router == RouterKind::kExpertChoice) {
    ExpertChoiceRouting routing;
    routing.capacity = capacity(groups.size(1));
    routing.gate_scale = options_.gate_scale;
    routing.noise_std = options_.noise_std;
    routing.gate = options_.gate;
    routing.z_loss_weight = options_.loss_weights.z_loss;
    routing.layout = layout;
    return route_expert_choice(logits, routing, is_training());
  }
  TokenChoiceRouting routing;
  routing.experts_per_token = options_.experts_per_token;
  routing.capacity = capacity(groups.size(1));
  routing.batch_priority = uses_batch_priority();
  routing.renormalize_gates = options_.renormalize_gates;
  routing.gate_scale = options_.gate_scale;
  routing.noise_std = options_.noise_std;
  routing.gate = options_.gate;
  routing.expert_bias = expert_bias;
  routing.top_p = options_.top_p;
  routing.loss_weights = options_.loss_weights;
  routing.layout = layout;
  if (options_.balance_scope == BalanceScope::kGlobal && is_training()) {
    if (count_reducer_)
      routing.count_reducer = count_reducer_;
    else  // no trainer's reducer (one process, no accumulation): the global batch is this one
      routing.count_reducer = [](const at::Tensor& counts) { return counts; };
  }
  return route_token_choice(logits, routing, is_training());
}

MoeLayerOutput MoeLayerImpl::forward(const torch::Tensor& inputs) {
  const torch::Tensor groups = group_tokens(inputs);
  MoeLayerOutput output;
  output.routing = route(groups);
  DispatchPlan& plan = output.routing.plan;
  if (experts_cut()) {
    // Routed (for the statistics) but no token reaches an expert.
    plan.branch_cut = true;
    output.output = torch::zeros_like(inputs);
  } else {
    output.output = combine(plan, experts->forward(dispatch(plan, groups), plan.rows_per_expert))
                        .reshape(inputs.sizes());
  }
  if (expert_bias.defined() && is_training()) {
    const torch::Tensor counts = chosen_expert_counts(plan);
    chosen_counts_ = chosen_counts_.defined() ? chosen_counts_ + counts : counts;
  }
  if (!shared_experts.is_empty()) {
    const int64_t width = inputs.size(-1);
    const torch::Tensor shared = shared_experts->forward(inputs.reshape({1, -1, width}));
    output.output = output.output + shared.reshape(inputs.sizes()).to(output.output.scalar_type());
  }
  return output;
}

}  // namespace moevit
