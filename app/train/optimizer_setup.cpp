#include "app/train/optimizer_setup.h"

#include "app/run/config.h"
#include "app/train/fused_adamw.h"

namespace moevit {

namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool exempt_from_weight_decay(const std::string& name, const torch::Tensor& parameter) {
  return parameter.dim() <= 1 || ends_with(name, "bias") || ends_with(name, "position_embedding") ||
         ends_with(name, "class_token") || ends_with(name, "scale");
}

std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model,
                                                const OptimConfig& config) {
  std::vector<torch::Tensor> decayed, exempt;
  for (const auto& item : model.named_parameters())
    (exempt_from_weight_decay(item.key(), item.value()) ? exempt : decayed).push_back(item.value());
  const auto options_with_decay = [&](double weight_decay) {
    return std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(config.lr)
                                                            .betas({config.beta1, config.beta2})
                                                            .eps(config.eps)
                                                            .weight_decay(weight_decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decayed, options_with_decay(config.weight_decay));
  groups.emplace_back(exempt, options_with_decay(0.0));
  return std::make_unique<FusedAdamW>(
      groups, torch::optim::AdamWOptions(config.lr).weight_decay(config.weight_decay));
}

void clear_gradients(torch::optim::Optimizer& optimizer) {
  for (auto& group : optimizer.param_groups())
    for (auto& parameter : group.params()) parameter.mutable_grad() = torch::Tensor();
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

}  // namespace moevit
