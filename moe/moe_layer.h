// A Mixture-of-Experts FFN: router → DispatchPlan → dispatch → experts → combine. Replaces the
// dense FFN in the transformer blocks the placement names (vmoe `MlpMoeBlock`).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

#include "moe/experts.h"
#include "moe/moe_options.h"
#include "moe/router_output.h"
#include "moe/token_choice_router.h"

namespace moevit {

struct MoeLayerOutput {
  torch::Tensor output;  // [B,N,D]; dropped tokens get 0 here and ride the residual
  RouterOutput routing;  // plan over [G = B / images per group, S = images per group · N]
};

class MoeLayerImpl : public torch::nn::Module {
 public:
  // tokens_per_image: N, fixes the soft slot count when slots_per_expert is 0 (auto).
  MoeLayerImpl(const MoeOptions& options, int64_t dim, int64_t hidden_dim,
               int64_t tokens_per_image);

  // inputs [B,N,D] → output [B,N,D] + routing.
  MoeLayerOutput forward(const torch::Tensor& inputs);
  // The steps of forward, public so the benchmarks can time each apart:
  // inputs [B,N,D] → groups [G,S,D]; then the router alone: groups → plan + aux losses.
  torch::Tensor group_tokens(const torch::Tensor& inputs) const;
  RouterOutput route(const torch::Tensor& groups);

  const MoeOptions& options() const { return options_; }
  // Changes the capacity used in eval mode: trades compute for accuracy at inference (V-MoE).
  // 0 cuts the routed experts: every token rides the residual (shared experts stay).
  void set_eval_capacity_factor(double factor);
  // True in eval mode at eval capacity factor 0.
  bool experts_cut() const;
  // Token choice and Expert Choice: slots per expert per group of `tokens_per_group` in the
  // current mode (0 when the experts are cut).
  int64_t capacity(int64_t tokens_per_group) const;
  // Soft: slots per expert (resolved from the options).
  int64_t slots_per_expert() const { return slots_per_expert_; }
  // Global balance scope: the reducer that turns this layer's top-1 counts into the global
  // batch's. Used in training mode only (evaluation runs on one rank and needs no loss).
  void set_expert_count_reducer(ExpertCountReducer reducer) { count_reducer_ = std::move(reducer); }
  // moe.balance: bias. The tokens that chose each expert [E] (float64) in the training
  // forwards since the last call, which resets them: the trainer sums them over ranks and
  // passes them to update_expert_bias after each optimizer step.
  torch::Tensor take_chosen_counts();
  void update_expert_bias(const torch::Tensor& global_counts);
  // Whether BPR orders the slot claims in the current mode.
  bool uses_batch_priority() const;
  // Images routed together for a batch of `batch_size` (the largest divisor of the batch not
  // above options.group_size, so odd batch sizes still route).
  int64_t images_per_group(int64_t batch_size) const;

  torch::Tensor router_weight;  // token choice, Expert Choice: [D, E], no bias (vmoe)
  torch::Tensor phi;            // soft: [D, E·C] slot parameters
  torch::Tensor scale;          // soft: [] learnable logit scale, init 1
  torch::Tensor expert_bias;    // moe.balance: bias: [E] float buffer (no gradient, checkpointed)
  Experts experts{nullptr};
  // moe.shared_experts N > 0: the N always-on experts as one MLP of width N · width (their sum
  // is that MLP, as DeepSeek-V3's MoE module holds them), weight 1 for every token. The init
  // policy's fan-out is then N · width, not width, for N > 1.
  Experts shared_experts{nullptr};

 private:
  MoeOptions options_;
  int64_t slots_per_expert_ = 0;
  ExpertCountReducer count_reducer_;
  torch::Tensor chosen_counts_;  // moe.balance: bias, accumulated over training forwards
};
TORCH_MODULE(MoeLayer);

// Hidden width of all shared experts together: N · (shared width, or the routed experts').
int64_t shared_experts_width(const MoeOptions& options, int64_t expert_hidden_dim);

// Soft slots per expert: the option, or round(tokens_per_image / E), at least 1.
int64_t resolve_slots_per_expert(const MoeOptions& options, int64_t tokens_per_image);

}  // namespace moevit
