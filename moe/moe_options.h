// Options of one MoE layer: which router, how many experts, capacity, noise and loss weights.
// A plain struct with defaults; `check_moe_options` validates it once, at model construction.
// Each enum's names are the table beside it (ops/enum_names.h): to_string and the config read
// them.
#pragma once

#include <cstdint>
#include <string>

#include "ops/enum_names.h"

namespace moevit {

// How tokens reach experts (V-MoE arXiv 2106.05974; Soft-MoE arXiv 2308.00951).
enum class RouterKind {
  kDense,     // no experts: a plain MLP (baseline)
  kTopK,      // token choice, slots claimed in token order
  kPriority,  // token choice, slots claimed by descending top-1 gate (V-MoE BPR)
  kSoft,      // Soft-MoE: every slot is a convex mix of all tokens; nothing drops
  // Expert Choice (Zhou et al. 2022, arXiv 2202.09368; vmoe NoisyTopItemsPerExpertRouter):
  // every expert takes its C best tokens of a group; a token may get 0, 1 or several experts.
  kExpertChoice,
};
inline constexpr EnumNames<RouterKind> kRouterKindNames{
    "dense,none|topk|priority|soft|expert_choice"};

// What turns router logits into the affinities that choose experts and weigh their outputs.
//   kSoftmax: softmax over the experts (V-MoE, Switch).
//   kSigmoid: an independent sigmoid per expert (DeepSeek-V3, arXiv 2412.19437 §2.1.2): the
//             affinity does not shrink as 1/E, so the combine weights keep their size with E.
enum class GateFunction { kSoftmax, kSigmoid };
inline constexpr EnumNames<GateFunction> kGateFunctionNames{"softmax|sigmoid"};

// How token-choice loads are balanced.
//   kLoss: the auxiliary losses below (V-MoE, Switch).
//   kBias: DeepSeek-V3's auxiliary-loss-free balancing (arXiv 2412.19437 §2.1.2, eq. 16): a
//          per-expert bias b, added to the affinities only to choose experts, moved after each
//          optimizer step by rate · sign(mean load − load of the expert). The loss weights then
//          default to 0; a weight set explicitly still applies.
enum class BalanceMethod { kLoss, kBias };
inline constexpr EnumNames<BalanceMethod> kBalanceMethodNames{"loss|bias"};

// When priority routing (BPR) is applied, for RouterKind::kPriority. vmoe trains without it
// and switches it on at inference to cut capacity.
enum class PriorityAt { kTrain, kEval, kBoth };
inline constexpr EnumNames<PriorityAt> kPriorityAtNames{"train|eval|both"};

// Over which tokens the Switch balance loss counts each expert's top-1 share f_e (Qiu et al.
// 2025, "Demons in the Detail"): micro = each routing group of this forward (GShard, vmoe);
// global = the whole global batch, all data-parallel ranks and all accumulation micro-batches of
// the optimizer step so far. The gate term P_e stays local either way.
enum class BalanceScope { kMicro, kGlobal };
inline constexpr EnumNames<BalanceScope> kBalanceScopeNames{"micro|global"};

// Auxiliary loss weights; V-MoE paper defaults for importance and load.
struct AuxLossWeights {
  double importance = 0.005;    // CV² of per-expert summed clean gates (V-MoE eq. 6)
  double load = 0.005;          // CV² of per-expert P(in top-k under noise) (V-MoE appendix A.2)
  double switch_balance = 0.0;  // E·Σ f_i·P_i (Switch / GShard); 0.01 when used
  double z_loss = 0.0;          // mean logsumexp(logits)² (ST-MoE); 0.001 when used
};

struct MoeOptions {
  RouterKind router = RouterKind::kTopK;
  int64_t num_experts = 8;        // E, e.g. 8
  int64_t experts_per_token = 1;  // K for token choice, e.g. 1 or 2
  // Hidden width of each expert; 0 = model.mlp_dim. mlp_dim / K keeps a top-K layer at the
  // dense FFN's active compute (Mixtral-style fine-grained experts, DeepSeekMoE arXiv 2401.06066).
  int64_t expert_mlp_dim = 0;
  bool renormalize_gates = false;  // divide the K combine weights by their sum (vmoe: no)
  // Token choice: the combine weights are gate_scale × the gates (DeepSeek-V3's
  // routed_scaling_factor). A near-flat router's top-1 gate is ~1/E, so with scale 1 the experts'
  // output reaches the residual at ~1/E of a dense FFN's size (docs/results.md, where scale E
  // restored the size but, after one epoch, not the model's use of the experts).
  double gate_scale = 1.0;
  double noise_std = 1.0;              // training noise on logits has std noise_std / E (vmoe)
  double capacity_factor = 1.05;       // training; C = ceil(K·S·factor/E)
  double eval_capacity_factor = 1.25;  // evaluation (vmoe evaluates with more room)
  int64_t capacity_multiple = 1;       // round C up to a multiple of this (vmoe uses 4)
  PriorityAt priority_at = PriorityAt::kBoth;
  int64_t group_size = 1;        // images per routing group
  int64_t slots_per_expert = 0;  // soft: S slots per expert; 0 = round(tokens / E), at least 1
  AuxLossWeights loss_weights;
  // global needs loss_weights.switch > 0 or balance: bias
  BalanceScope balance_scope = BalanceScope::kMicro;
  GateFunction gate = GateFunction::kSoftmax;
  BalanceMethod balance = BalanceMethod::kLoss;
  double bias_rate = 1e-3;  // γ of the bias update (DeepSeek-V3 uses 0.001)
  // Always-on experts added to every token with weight 1 beside the routed ones (DeepSeekMoE,
  // arXiv 2401.06066 §3.2), each of width shared_expert_mlp_dim (0 = the routed experts' width).
  int64_t shared_experts = 0;
  int64_t shared_expert_mlp_dim = 0;
  // Top-p token choice (Huang et al. 2024, arXiv 2403.07652): a token takes experts in gate
  // order until their gates sum to at least top_p (at least 1, at most k). 0 = off (always k).
  double top_p = 0;

  bool is_token_choice() const {
    return router == RouterKind::kTopK || router == RouterKind::kPriority;
  }
  // Routers whose plans come from per-token or per-expert gates (not soft's slots).
  bool has_gates() const { return is_token_choice() || router == RouterKind::kExpertChoice; }
};

// Throws std::invalid_argument naming the field ("moe.k: expected 1 <= k <= ..., got 9").
void check_moe_options(const MoeOptions& options);

// The shared shape of every option check: throws "KEY: expected EXPECTED, got GOT" unless
// `condition` holds.
void require_option(bool condition, const std::string& key, const std::string& expected,
                    const std::string& got);

// A number as a person writes it: -1, 0.25, 1e-05 (not std::to_string's -1.000000).
std::string format_option_value(double value);

// The tables' hooks for to_string and the config reader (ops/enum_names.h).
// clang-format off
constexpr EnumNames<RouterKind> enum_names(RouterKind) { return kRouterKindNames; }
constexpr EnumNames<GateFunction> enum_names(GateFunction) { return kGateFunctionNames; }
constexpr EnumNames<BalanceMethod> enum_names(BalanceMethod) { return kBalanceMethodNames; }
constexpr EnumNames<PriorityAt> enum_names(PriorityAt) { return kPriorityAtNames; }
constexpr EnumNames<BalanceScope> enum_names(BalanceScope) { return kBalanceScopeNames; }
// clang-format on

}  // namespace moevit
