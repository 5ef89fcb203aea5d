#include "app/train/model_ema.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace moevit {

namespace {

// The trained model's tensors in the same order as the averaged model's: both are built from
// one config, so their parameter and buffer lists line up one to one.
void check_same_layout(const std::vector<torch::Tensor>& averaged,
                       const std::vector<torch::Tensor>& trained, const char* what) {
  if (averaged.size() != trained.size())
    throw std::logic_error(std::string("ModelEma: the trained model has ") +
                           std::to_string(trained.size()) + " " + what + ", the average " +
                           std::to_string(averaged.size()));
}

// A model of `config`'s shape whose weights are about to be overwritten. Building one draws
// initial values from the global generator; its state is put back, so a run's random stream
// (dropout, drop path, routing noise) is the same with and without an average, and a resumed
// run, which builds the average after restoring that state, continues exactly.
VisionTransformer model_without_drawing(const ModelConfig& config) {
  at::Generator generator = at::detail::getDefaultCPUGenerator();
  torch::Tensor state;
  {
    std::lock_guard<std::mutex> lock(generator.mutex());
    state = generator.get_state();
  }
  VisionTransformer model(config, WeightInit::kOverwrittenByCheckpoint);
  std::lock_guard<std::mutex> lock(generator.mutex());
  generator.set_state(state);
  return model;
}

}  // namespace

ModelEma::ModelEma(VisionTransformerImpl& model, double decay)
    : decay_(decay), averaged_(model_without_drawing(model.config())) {
  if (!(decay > 0 && decay < 1))
    throw std::invalid_argument(
        "optim.ema_decay: expected a number in (0, 1) for an average, got " +
        std::to_string(decay));
  const torch::Tensor any_parameter = model.parameters().front();
  averaged_->to(any_parameter.device());
  // Its parameters keep requires_grad (a checkpoint's parameters must have it to load back);
  // nothing ever runs backward through them: updates and validation run without gradients.
  averaged_->eval();
  averaged_parameters_ = averaged_->parameters();
  averaged_buffers_ = averaged_->buffers();
  copy_from(model);
}

double ModelEma::decay_at(double decay, int64_t step) {
  return std::min(decay, (1.0 + static_cast<double>(step)) / (10.0 + static_cast<double>(step)));
}

void ModelEma::copy_from(VisionTransformerImpl& model) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> parameters = model.parameters(), buffers = model.buffers();
  check_same_layout(averaged_parameters_, parameters, "parameters");
  check_same_layout(averaged_buffers_, buffers, "buffers");
  for (size_t i = 0; i < parameters.size(); ++i) averaged_parameters_[i].copy_(parameters[i]);
  for (size_t i = 0; i < buffers.size(); ++i) averaged_buffers_[i].copy_(buffers[i]);
}

void ModelEma::update(VisionTransformerImpl& trained, int64_t step) {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> parameters = trained.parameters(), buffers = trained.buffers();
  check_same_layout(averaged_parameters_, parameters, "parameters");
  check_same_layout(averaged_buffers_, buffers, "buffers");
  const double weight = 1.0 - decay_at(decay_, step);
  // lerp: averaged + weight · (trained − averaged) = d·averaged + (1 − d)·trained, one pass.
  for (size_t i = 0; i < parameters.size(); ++i)
    averaged_parameters_[i].lerp_(parameters[i], weight);
  for (size_t i = 0; i < buffers.size(); ++i) averaged_buffers_[i].copy_(buffers[i]);
}

}  // namespace moevit
