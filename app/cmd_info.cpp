// moevit info --config FILE [--set key=value ...]: the architecture and its parameter counts.
#include <cstdio>
#include <string>
#include <vector>

#include "app/cli_options.h"
#include "app/commands.h"
#include "app/run/config.h"
#include "moe/capacity.h"
#include "vit/parameter_count.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

std::string with_thousands(double value) {
  std::string digits = std::to_string(static_cast<int64_t>(value + 0.5));
  for (int position = static_cast<int>(digits.size()) - 3; position > 0; position -= 3)
    digits.insert(static_cast<size_t>(position), ",");
  return digits;
}

std::string describe_moe(const MoeLayerImpl& layer, int64_t tokens_per_group,
                         int64_t expert_hidden) {
  const MoeOptions& options = layer.options();
  char line[512];
  if (options.router == RouterKind::kSoft) {
    std::snprintf(line, sizeof line,
                  "soft MoE: %lld experts (hidden %lld) x %lld slots (%lld slots for %lld tokens)",
                  (long long)options.num_experts, (long long)expert_hidden,
                  (long long)layer.slots_per_expert(),
                  (long long)(options.num_experts * layer.slots_per_expert()),
                  (long long)tokens_per_group);
    return line;
  }
  const bool expert_choice = options.router == RouterKind::kExpertChoice;
  const auto capacity_at = [&](double factor) {
    return factor > 0
               ? compute_capacity(tokens_per_group, expert_choice ? 1 : options.experts_per_token,
                                  factor, options.num_experts, options.capacity_multiple)
               : 0;
  };
  std::string choice = expert_choice ? "each expert takes its best tokens"
                                     : "k=" + std::to_string(options.experts_per_token);
  if (options.top_p > 0) choice += " (top-p " + format_option_value(options.top_p) + ")";
  std::string extras = ", " + to_string(options.gate) + " gate";
  if (options.router == RouterKind::kPriority)
    extras += ", BPR at " + to_string(options.priority_at);
  if (options.balance == BalanceMethod::kBias)
    extras += ", bias balancing (rate " + format_option_value(options.bias_rate) + ")";
  if (options.shared_experts > 0)
    extras += " + " + std::to_string(options.shared_experts) + " shared expert(s) of hidden " +
              std::to_string(shared_experts_width(options, expert_hidden) / options.shared_experts);
  std::snprintf(line, sizeof line,
                "%s MoE: %lld experts (hidden %lld), %s, capacity %lld train (factor %g) / %lld "
                "eval (factor %g) per expert per group of %lld tokens%s",
                to_string(options.router).c_str(), (long long)options.num_experts,
                (long long)expert_hidden, choice.c_str(),
                (long long)capacity_at(options.capacity_factor), options.capacity_factor,
                (long long)capacity_at(options.eval_capacity_factor), options.eval_capacity_factor,
                (long long)tokens_per_group, extras.c_str());
  return line;
}

}  // namespace

int run_info(const CommandArgs& args) {
  cxxopts::Options parser("moevit info", "Print a model's architecture and parameter counts.");
  add_run_options(parser);
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("config"))
    throw std::invalid_argument("info: --config FILE is required (e.g. configs/fmnist-soft.yaml)");
  const Config config = load_config(options["config"].as<std::string>(), run_overrides(options));
  const ModelConfig& model_config = config.model;
  VisionTransformer model(model_config);

  std::printf("%s\n", config.source.c_str());
  std::printf(
      "  input      %lld x %lld x %lld, %s stem, patch %lld -> %lld tokens of width %lld (%s "
      "pooling, %s attention)\n",
      (long long)model_config.channels, (long long)model_config.image_size,
      (long long)model_config.image_size, to_string(model_config.stem).c_str(),
      (long long)model_config.patch_size, (long long)model_config.num_tokens(),
      (long long)model_config.dim, to_string(model_config.pooling).c_str(),
      to_string(model_config.attention).c_str());
  const int64_t tokens_per_group = model_config.moe.group_size * model_config.num_tokens();
  const std::vector<MoeLayer> moe_layers = model->moe_layers();
  const std::vector<int64_t> moe_ids = moe_block_ids(model_config);
  for (int64_t block = 0, moe_index = 0; block < model_config.depth; ++block) {
    const bool is_moe = moe_index < (int64_t)moe_ids.size() && moe_ids[moe_index] == block;
    const std::string ffn = is_moe ? describe_moe(*moe_layers[moe_index++], tokens_per_group,
                                                  model_config.expert_mlp_dim())
                                   : "dense MLP " + std::to_string(model_config.dim) + " -> " +
                                         std::to_string(model_config.mlp_dim) + " -> " +
                                         std::to_string(model_config.dim);
    std::printf("  block %-3lld  attention (%lld heads) + %s\n", (long long)block,
                (long long)model_config.heads, ffn.c_str());
  }
  std::printf("  head       %lld classes\n", (long long)model_config.num_classes);
  const ParameterCount count = count_parameters(*model);
  std::printf("  parameters %s total, %s in experts, %s active per token\n",
              with_thousands(count.total).c_str(), with_thousands(count.expert).c_str(),
              with_thousands(count.active_per_token).c_str());
  return 0;
}

}  // namespace moevit
