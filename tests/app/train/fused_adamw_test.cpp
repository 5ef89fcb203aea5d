#include "app/train/fused_adamw.h"

#include <gtest/gtest.h>

#include <sstream>
#include <utility>
#include <vector>

namespace moevit {
namespace {

// Parameters of the sizes a model has: a scalar, a bias, an odd length (no whole vector of
// SIMD lanes), and one larger than a parallel task (two threads share it).
std::vector<torch::Tensor> make_parameters(int64_t seed) {
  torch::manual_seed(seed);
  std::vector<torch::Tensor> parameters;
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{}, {7}, {13, 11}, {300, 257}})
    parameters.push_back(torch::randn(shape).requires_grad_(true));
  return parameters;
}

// Two groups as the trainer builds them: the first decays, the second does not.
template <typename Optimizer>
std::unique_ptr<Optimizer> make_optimizer(const std::vector<torch::Tensor>& parameters) {
  auto options = [](double weight_decay) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(1e-2).betas({0.9, 0.99}).eps(1e-6).weight_decay(weight_decay));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{parameters[0], parameters[2]}, options(0.05));
  groups.emplace_back(std::vector<torch::Tensor>{parameters[1], parameters[3]}, options(0.0));
  return std::make_unique<Optimizer>(groups, torch::optim::AdamWOptions(1e-2));
}

// The same gradients for both sets of parameters at each step, N(0, scale²).
void set_gradients(std::vector<torch::Tensor>& a, std::vector<torch::Tensor>& b, int64_t step,
                   double scale = 1.0) {
  torch::manual_seed(1000 + step);
  for (size_t i = 0; i < a.size(); ++i) {
    const torch::Tensor gradient = torch::randn(a[i].sizes()) * scale;
    a[i].mutable_grad() = gradient.clone();
    b[i].mutable_grad() = gradient.clone();
  }
}

void set_lr(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups())
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
}

void expect_close(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(torch::allclose(a[i], b[i], /*rtol=*/1e-5, /*atol=*/1e-6))
        << "parameter " << i << ": max difference " << (a[i] - b[i]).abs().max().item<double>();
}

// The fused and LibTorch's AdamW from the same parameters over `steps` steps of the same
// gradients, N(0, scale²); with `decay_lr` the lr is 1e-2 / (1 + step). Returns {fused, stock}.
std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> run_both(int64_t steps,
                                                                           double scale,
                                                                           bool decay_lr) {
  std::vector<torch::Tensor> fused_parameters = make_parameters(0),
                             stock_parameters = make_parameters(0);
  auto fused = make_optimizer<FusedAdamW>(fused_parameters);
  auto stock = make_optimizer<torch::optim::AdamW>(stock_parameters);
  for (int64_t step = 0; step < steps; ++step) {
    set_gradients(fused_parameters, stock_parameters, step, scale);
    if (decay_lr) {
      set_lr(*fused, 1e-2 / (1 + step));
      set_lr(*stock, 1e-2 / (1 + step));
    }
    fused->step();
    stock->step();
  }
  return {fused_parameters, stock_parameters};
}

TEST(FusedAdamW, MatchesLibTorchAdamWOverStepsWithDecayAndChangingLr) {
  const auto [fused_parameters, stock_parameters] = run_both(6, 1.0, /*decay_lr=*/true);
  expect_close(fused_parameters, stock_parameters);
  // The parameters moved: a step that did nothing would also "match" a stock step of lr 0.
  const std::vector<torch::Tensor> initial = make_parameters(0);
  for (size_t i = 0; i < initial.size(); ++i)
    EXPECT_GT((fused_parameters[i] - initial[i]).abs().max().item<double>(), 1e-3) << i;
}

TEST(FusedAdamW, MatchesLibTorchAdamWWithGradientsNearEps) {
  // Gradients of ~1e-6 make √v̂ as small as ε = 1e-6: where ε sits in the denominator (outside
  // the square root, after the bias correction) then moves every update.
  const auto [fused_parameters, stock_parameters] = run_both(3, 1e-6, /*decay_lr=*/false);
  expect_close(fused_parameters, stock_parameters);
}

TEST(FusedAdamW, SkipsParametersWithoutGradient) {
  std::vector<torch::Tensor> parameters = make_parameters(0), unused = make_parameters(0);
  auto fused = make_optimizer<FusedAdamW>(parameters);
  set_gradients(parameters, unused, 0);
  parameters[2].mutable_grad() = torch::Tensor();
  const torch::Tensor before = parameters[2].detach().clone();
  fused->step();
  EXPECT_TRUE(torch::equal(parameters[2], before));  // no decay either
  EXPECT_EQ(fused->state().size(), 3u);              // no state for it
}

TEST(FusedAdamW, StateIsInterchangeableWithLibTorchAdamW) {
  // Two fused steps, saved; loaded into LibTorch's AdamW and into a fused one, each continues
  // from the same moments. A state under another key would start again from zero moments.
  std::vector<torch::Tensor> parameters = make_parameters(0), unused = make_parameters(0);
  auto fused = make_optimizer<FusedAdamW>(parameters);
  for (int64_t step = 0; step < 2; ++step) {
    set_gradients(parameters, unused, step);
    fused->step();
  }
  std::stringstream saved;
  {
    torch::serialize::OutputArchive archive;
    fused->save(archive);
    archive.save_to(saved);
  }
  std::vector<torch::Tensor> stock_parameters, fused_parameters;
  for (const torch::Tensor& parameter : parameters) {
    stock_parameters.push_back(parameter.detach().clone().requires_grad_(true));
    fused_parameters.push_back(parameter.detach().clone().requires_grad_(true));
  }
  auto stock = make_optimizer<torch::optim::AdamW>(stock_parameters);
  auto resumed = make_optimizer<FusedAdamW>(fused_parameters);
  for (torch::optim::Optimizer* optimizer :
       {static_cast<torch::optim::Optimizer*>(stock.get()),
        static_cast<torch::optim::Optimizer*>(resumed.get())}) {
    std::stringstream copy(saved.str());
    torch::serialize::InputArchive archive;
    archive.load_from(copy);
    optimizer->load(archive);
  }
  // Both found the saved moments under their parameters' keys (a state under another key
  // would leave them to start again from zero moments, and still agree with each other).
  for (torch::optim::Optimizer* optimizer :
       {static_cast<torch::optim::Optimizer*>(stock.get()),
        static_cast<torch::optim::Optimizer*>(resumed.get())}) {
    ASSERT_EQ(optimizer->state().size(), 4u);
    for (const auto& item : optimizer->state())
      EXPECT_EQ(static_cast<torch::optim::AdamWParamState&>(*item.second).step(), 2);
  }
  for (int64_t step = 2; step < 4; ++step) {
    set_gradients(stock_parameters, fused_parameters, step);
    stock->step();
    resumed->step();
  }
  expect_close(fused_parameters, stock_parameters);
}

TEST(FusedAdamW, AmsgradTakesLibTorchsStepExactly) {
  std::vector<torch::Tensor> fused_parameters = make_parameters(0),
                             stock_parameters = make_parameters(0);
  auto fused = make_optimizer<FusedAdamW>(fused_parameters);
  auto stock = make_optimizer<torch::optim::AdamW>(stock_parameters);
  for (auto* optimizer : {static_cast<torch::optim::Optimizer*>(fused.get()),
                          static_cast<torch::optim::Optimizer*>(stock.get())})
    for (auto& group : optimizer->param_groups())
      static_cast<torch::optim::AdamWOptions&>(group.options()).amsgrad(true);
  for (int64_t step = 0; step < 3; ++step) {
    set_gradients(fused_parameters, stock_parameters, step);
    fused->step();
    stock->step();
  }
  for (size_t i = 0; i < fused_parameters.size(); ++i)
    EXPECT_TRUE(torch::equal(fused_parameters[i], stock_parameters[i])) << i;
}

}  // namespace
}  // namespace moevit
