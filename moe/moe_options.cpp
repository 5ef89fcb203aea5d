#include "moe/moe_options.h"

#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <string>

namespace moevit {

std::string to_string(RouterKind kind) {
  switch (kind) {
    case RouterKind::kDense:
      return "dense";
    case RouterKind::kTopK:
      return "topk";
    case RouterKind::kPriority:
      return "priority";
    case RouterKind::kSoft:
      return "soft";
  }
  return "unknown";
}

std::string to_string(PriorityAt when) {
  switch (when) {
    case PriorityAt::kTrain:
      return "train";
    case PriorityAt::kEval:
      return "eval";
    case PriorityAt::kBoth:
      return "both";
  }
  return "unknown";
}

std::string to_string(BalanceScope scope) {
  return scope == BalanceScope::kGlobal ? "global" : "micro";
}

void require_option(bool condition, const std::string& key, const std::string& expected,
                    const std::string& got) {
  if (!condition) throw std::invalid_argument(key + ": expected " + expected + ", got " + got);
}

std::string format_option_value(double value) {
  std::ostringstream text;
  text << std::setprecision(6) << value;
  return text.str();
}

void check_moe_options(const MoeOptions& options) {
  if (options.router == RouterKind::kDense) return;
  require_option(options.num_experts >= 1, "moe.num_experts", "an integer >= 1",
                 std::to_string(options.num_experts));
  const bool token_choice =
      options.router == RouterKind::kTopK || options.router == RouterKind::kPriority;
  if (token_choice) {
    require_option(
        options.experts_per_token >= 1 && options.experts_per_token <= options.num_experts, "moe.k",
        "1 <= k <= moe.num_experts (" + std::to_string(options.num_experts) + ")",
        std::to_string(options.experts_per_token));
    require_option(options.capacity_factor > 0, "moe.capacity_factor", "a number > 0",
                   format_option_value(options.capacity_factor));
    require_option(options.eval_capacity_factor > 0, "moe.eval_capacity_factor", "a number > 0",
                   format_option_value(options.eval_capacity_factor));
    require_option(options.capacity_multiple >= 1, "moe.capacity_multiple", "an integer >= 1",
                   std::to_string(options.capacity_multiple));
    require_option(options.noise_std >= 0, "moe.noise_std", "a number >= 0",
                   format_option_value(options.noise_std));
    require_option(options.gate_scale > 0, "moe.gate_scale", "a number > 0",
                   format_option_value(options.gate_scale));
  } else {
    // Soft-MoE's combine weights are a softmax over slots per token: no gate to scale.
    require_option(options.gate_scale == 1.0, "moe.gate_scale",
                   "1 with moe.router: soft (it scales token-choice gates)",
                   format_option_value(options.gate_scale));
  }
  require_option(options.expert_mlp_dim >= 0, "moe.expert_mlp_dim",
                 "an integer >= 0 (0 = model.mlp_dim)", std::to_string(options.expert_mlp_dim));
  require_option(options.slots_per_expert >= 0, "moe.slots_per_expert",
                 "an integer >= 0 (0 = auto)", std::to_string(options.slots_per_expert));
  require_option(options.group_size >= 1, "moe.group_size", "an integer >= 1 (images per group)",
                 std::to_string(options.group_size));
  const AuxLossWeights& weights = options.loss_weights;
  for (const auto& [key, value] : {std::pair{"moe.loss.importance", weights.importance},
                                   std::pair{"moe.loss.load", weights.load},
                                   std::pair{"moe.loss.switch", weights.switch_balance},
                                   std::pair{"moe.loss.z", weights.z_loss}})
    require_option(value >= 0, key, "a weight >= 0", format_option_value(value));
  // The scope changes only the Switch loss: without it, global would silently do nothing.
  require_option(
      options.balance_scope == BalanceScope::kMicro || (token_choice && weights.switch_balance > 0),
      "moe.balance_scope",
      "micro unless a token-choice router has moe.loss.switch > 0 (global changes only "
      "the Switch balance loss)",
      to_string(options.balance_scope));
}

}  // namespace moevit
