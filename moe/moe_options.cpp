#include "moe/moe_options.h"

#include <iomanip>
#include <sstream>
#include <stdexcept>
#include <string>

namespace moevit {

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
  const bool token_choice = options.is_token_choice();
  if (token_choice) {
    require_option(
        options.experts_per_token >= 1 && options.experts_per_token <= options.num_experts, "moe.k",
        "1 <= k <= moe.num_experts (" + std::to_string(options.num_experts) + ")",
        std::to_string(options.experts_per_token));
    require_option(options.top_p == 0 || (options.top_p > 0 && options.top_p <= 1), "moe.top_p",
                   "0 (off) or a number in (0, 1]", format_option_value(options.top_p));
    require_option(options.top_p == 0 || options.experts_per_token >= 2, "moe.top_p",
                   "0 with moe.k: 1 (top-p chooses between 1 and k experts)",
                   format_option_value(options.top_p));
  } else {
    require_option(options.top_p == 0, "moe.top_p",
                   "0 unless moe.router is topk or priority (top-p is a token-choice rule)",
                   format_option_value(options.top_p));
  }
  if (options.has_gates()) {
    require_option(options.capacity_factor > 0, "moe.capacity_factor", "a number > 0",
                   format_option_value(options.capacity_factor));
    // 0 cuts the experts at evaluation (every token rides the residual): eval --sweep.
    require_option(options.eval_capacity_factor >= 0, "moe.eval_capacity_factor",
                   "a number >= 0 (0 = experts cut)",
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
    require_option(options.gate == GateFunction::kSoftmax, "moe.gate",
                   "softmax with moe.router: soft (its slots mix tokens by softmaxes)",
                   to_string(options.gate));
  }
  // Expert Choice balances by construction (every expert takes C tokens); soft has no loads.
  require_option(options.balance == BalanceMethod::kLoss || token_choice, "moe.balance",
                 "loss unless moe.router is topk or priority (the bias balances token choice)",
                 to_string(options.balance));
  require_option(options.bias_rate >= 0, "moe.bias_rate", "a number >= 0",
                 format_option_value(options.bias_rate));
  require_option(options.expert_mlp_dim >= 0, "moe.expert_mlp_dim",
                 "an integer >= 0 (0 = model.mlp_dim)", std::to_string(options.expert_mlp_dim));
  require_option(options.shared_experts >= 0, "moe.shared_experts", "an integer >= 0",
                 std::to_string(options.shared_experts));
  require_option(options.shared_expert_mlp_dim >= 0, "moe.shared_expert_mlp_dim",
                 "an integer >= 0 (0 = the routed experts' width)",
                 std::to_string(options.shared_expert_mlp_dim));
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
  // The scope changes only the Switch loss (the bias's loads are always global): without
  // either, global would silently do nothing.
  require_option(
      options.balance_scope == BalanceScope::kMicro ||
          (token_choice && (weights.switch_balance > 0 || options.balance == BalanceMethod::kBias)),
      "moe.balance_scope",
      "micro unless a token-choice router has moe.loss.switch > 0 or moe.balance: bias "
      "(global changes only the Switch balance loss)",
      to_string(options.balance_scope));
}

}  // namespace moevit
