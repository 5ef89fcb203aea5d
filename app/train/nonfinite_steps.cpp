#include "app/train/nonfinite_steps.h"

#include <torch/nn/utils/clip_grad.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "app/run/runtime.h"
#include "app/train/trainer.h"
#include "vit/vision_transformer.h"

namespace moevit {

namespace {

bool all_finite(const torch::Tensor& tensor) {
  return !tensor.defined() || torch::isfinite(tensor).all().item<bool>();
}

// The router's own parameters: [D, E] for token and expert choice, the slots and scale for
// soft routing (the undefined ones of the other kind are skipped).
bool router_weights_finite(MoeLayerImpl& layer) {
  return all_finite(layer.router_weight) && all_finite(layer.phi) && all_finite(layer.scale);
}

// A loss or a norm as text: 2.3026, nan (never printf's "-nan"), inf, -inf.
std::string number_text(double value) {
  if (std::isnan(value)) return "nan";
  char text[32];
  std::snprintf(text, sizeof text, "%.5g", value);
  return text;
}

}  // namespace

namespace {

// Where first_nonfinite_router found one: the block id, and the layer's index among the
// model's MoE layers (both in block order).
struct NonfiniteRouter {
  int64_t block = 0;
  size_t layer = 0;
};

std::optional<NonfiniteRouter> find_nonfinite_router(VisionTransformerImpl& model,
                                                     const torch::Tensor& inputs,
                                                     const Runtime& runtime) {
  const bool was_training = model.is_training();
  model.eval();  // no noise or drop path, no expert counting (which all-reduces in training)
  std::optional<NonfiniteRouter> found;
  {
    torch::NoGradGuard no_grad;
    AutocastScope autocast(runtime);
    const VitOutput output = model.forward(inputs, /*keep_routing=*/true);
    for (size_t layer = 0; layer < output.routing.size() && !found; ++layer) {
      const DispatchPlan& plan = output.routing[layer].routing.plan;
      // Soft plans keep their router probabilities in the combine weights.
      if (!all_finite(plan.kind == DispatchPlan::Kind::kSoft ? plan.combine_weight : plan.gate))
        found = NonfiniteRouter{output.routing[layer].block, layer};
    }
  }
  model.train(was_training);
  return found;
}

}  // namespace

std::optional<int64_t> first_nonfinite_router(VisionTransformerImpl& model,
                                              const torch::Tensor& inputs, const Runtime& runtime) {
  const std::optional<NonfiniteRouter> found = find_nonfinite_router(model, inputs, runtime);
  return found ? std::optional<int64_t>(found->block) : std::nullopt;
}

std::string explain_nonfinite_loss(double loss, VisionTransformerImpl& model,
                                   const torch::Tensor& inputs, const Runtime& runtime) {
  std::string text = "loss is " + number_text(loss);
  const std::optional<NonfiniteRouter> found = find_nonfinite_router(model, inputs, runtime);
  if (!found) return text;
  text += "; the router logits of MoE block " + std::to_string(found->block) +
          " are the first non-finite";
  if (!router_weights_finite(*model.moe_layers().at(found->layer)))
    text += " (its router weights are non-finite)";
  return text;
}

std::string explain_nonfinite_gradients(double loss, double gradient_norm) {
  return "loss is " + number_text(loss) + " but the gradient norm is " + number_text(gradient_norm);
}

double clip_gradients(const std::vector<torch::Tensor>& parameters, double max_norm) {
  if (max_norm > 0) return torch::nn::utils::clip_grad_norm_(parameters, max_norm);
  std::vector<torch::Tensor> norms;
  for (const torch::Tensor& parameter : parameters)
    if (parameter.grad().defined()) norms.push_back(parameter.grad().norm());
  return norms.empty() ? 0.0 : torch::stack(norms).norm().item<double>();
}

std::string skip_nonfinite_step(Trainer& trainer, const std::string& finding) {
  const int64_t allowed = trainer.config.optim.skip_nonfinite;
  const std::string step = "step " + std::to_string(trainer.step + 1) + ": " + finding;
  if (++trainer.skipped_steps > allowed) {
    const std::string advice = allowed > 0
                                   ? "; stopped, one more such step than optim.skip_nonfinite (" +
                                         std::to_string(allowed) +
                                         ") allows (lower optim.lr or raise optim.grad_clip)"
                                   : "; stopped (lower optim.lr, raise optim.grad_clip, or let "
                                     "optim.skip_nonfinite skip such steps)";
    throw std::runtime_error(step + advice + "; the last good checkpoint is " + trainer.output_dir +
                             "/last.pt");
  }
  // The expert counts of moe.balance: bias since the last update belong to this step.
  for (MoeLayer layer : trainer.model->moe_layers())
    if (layer->expert_bias.defined()) layer->take_chosen_counts();
  ++trainer.step;
  ++trainer.batches_into_epoch;
  return step + "; skipped without an update (" + std::to_string(trainer.skipped_steps) +
         " of optim.skip_nonfinite: " + std::to_string(allowed) + ")";
}

}  // namespace moevit
