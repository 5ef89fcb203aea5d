#include "moe/moe_options.h"

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

namespace {

void require(bool condition, const std::string& key, const std::string& expected,
             const std::string& got) {
  if (!condition) throw std::invalid_argument(key + ": expected " + expected + ", got " + got);
}

}  // namespace

void check_moe_options(const MoeOptions& options) {
  if (options.router == RouterKind::kDense) return;
  require(options.num_experts >= 1, "moe.num_experts", "an integer >= 1",
          std::to_string(options.num_experts));
  const bool token_choice =
      options.router == RouterKind::kTopK || options.router == RouterKind::kPriority;
  if (token_choice) {
    require(options.experts_per_token >= 1 && options.experts_per_token <= options.num_experts,
            "moe.k", "1 <= k <= moe.num_experts (" + std::to_string(options.num_experts) + ")",
            std::to_string(options.experts_per_token));
    require(options.capacity_factor > 0, "moe.capacity_factor", "a number > 0",
            std::to_string(options.capacity_factor));
    require(options.eval_capacity_factor > 0, "moe.eval_capacity_factor", "a number > 0",
            std::to_string(options.eval_capacity_factor));
    require(options.capacity_multiple >= 1, "moe.capacity_multiple", "an integer >= 1",
            std::to_string(options.capacity_multiple));
    require(options.noise_std >= 0, "moe.noise_std", "a number >= 0",
            std::to_string(options.noise_std));
  }
  require(options.slots_per_expert >= 0, "moe.slots_per_expert", "an integer >= 0 (0 = auto)",
          std::to_string(options.slots_per_expert));
  require(options.group_size >= 1, "moe.group_size", "an integer >= 1 (images per group)",
          std::to_string(options.group_size));
  const AuxLossWeights& weights = options.loss_weights;
  for (const auto& [key, value] : {std::pair{"moe.loss.importance", weights.importance},
                                   std::pair{"moe.loss.load", weights.load},
                                   std::pair{"moe.loss.switch", weights.switch_balance},
                                   std::pair{"moe.loss.z", weights.z_loss}})
    require(value >= 0, key, "a weight >= 0", std::to_string(value));
}

}  // namespace moevit
