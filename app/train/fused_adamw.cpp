#include "app/train/fused_adamw.h"

#include <ATen/Parallel.h>

#include <cmath>

namespace moevit {

namespace {

// Elements per parallel task: large enough that the hand-off is small next to the pass.
constexpr int64_t kGrain = 32768;

struct StepScalars {
  float decay;  // 1 − lr·wd (the decoupled weight decay, applied first)
  float beta1, one_minus_beta1, beta2, one_minus_beta2;
  float sqrt_bias_correction2;  // √(1 − β₂ᵗ)
  float eps;
  float step_size;  // lr / (1 − β₁ᵗ)
};

// The update of LibTorch's AdamW::step, element by element, in its order of operations:
//   p ← p·(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
//   p ← p − step_size · m / (√v / √(1−β₂ᵗ) + ε).
void update_range(float* __restrict parameter, const float* __restrict gradient,
                  float* __restrict exp_avg, float* __restrict exp_avg_sq, int64_t begin,
                  int64_t end, const StepScalars& s) {
  for (int64_t i = begin; i < end; ++i) {
    const float g = gradient[i];
    const float m = exp_avg[i] * s.beta1 + s.one_minus_beta1 * g;
    const float v = exp_avg_sq[i] * s.beta2 + s.one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    const float denominator = std::sqrt(v) / s.sqrt_bias_correction2 + s.eps;
    parameter[i] = parameter[i] * s.decay - s.step_size * m / denominator;
  }
}

}  // namespace

bool FusedAdamW::fusable() const {
  const auto is_cpu_float = [](const torch::Tensor& tensor, const torch::Tensor& like) {
    return tensor.defined() && tensor.is_cpu() && !tensor.is_sparse() &&
           tensor.scalar_type() == torch::kFloat && tensor.sizes() == like.sizes();
  };
  for (const auto& group : param_groups_) {
    if (static_cast<const torch::optim::AdamWOptions&>(group.options()).amsgrad()) return false;
    for (const auto& parameter : group.params()) {
      const torch::Tensor& gradient = parameter.grad();
      if (!gradient.defined()) continue;
      if (!is_cpu_float(parameter, parameter) || !parameter.is_contiguous() ||
          !is_cpu_float(gradient, parameter) || !gradient.is_contiguous())
        return false;
      // State loaded from a checkpoint: moments of another size or device take LibTorch's step,
      // which reports the mismatch instead of writing out of bounds.
      const auto found = state_.find(optimizer_state_key(state_, parameter));
      if (found == state_.end()) continue;
      const auto& state = static_cast<const torch::optim::AdamWParamState&>(*found->second);
      if (!is_cpu_float(state.exp_avg(), parameter) || !is_cpu_float(state.exp_avg_sq(), parameter))
        return false;
    }
  }
  return true;
}

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss = {};
  if (closure != nullptr) {  // first: the closure makes the gradients fusable() inspects
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  if (!fusable()) {
    torch::optim::AdamW::step(nullptr);
    return loss;
  }
  for (auto& group : param_groups_) {
    const auto& options = static_cast<const torch::optim::AdamWOptions&>(group.options());
    const double beta1 = std::get<0>(options.betas()), beta2 = std::get<1>(options.betas());
    for (auto& parameter : group.params()) {
      if (!parameter.grad().defined()) continue;
      const auto key = optimizer_state_key(state_, parameter);
      auto found = state_.find(key);
      if (found == state_.end()) {
        auto fresh = std::make_unique<torch::optim::AdamWParamState>();
        fresh->step(0);
        fresh->exp_avg(torch::zeros_like(parameter, torch::MemoryFormat::Contiguous));
        fresh->exp_avg_sq(torch::zeros_like(parameter, torch::MemoryFormat::Contiguous));
        found = state_.emplace(key, std::move(fresh)).first;
      }
      auto& state = static_cast<torch::optim::AdamWParamState&>(*found->second);
      state.step(state.step() + 1);
      const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(state.step()));
      const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(state.step()));
      const StepScalars scalars{static_cast<float>(1 - options.lr() * options.weight_decay()),
                                static_cast<float>(beta1),
                                static_cast<float>(1 - beta1),
                                static_cast<float>(beta2),
                                static_cast<float>(1 - beta2),
                                static_cast<float>(std::sqrt(bias_correction2)),
                                static_cast<float>(options.eps()),
                                static_cast<float>(options.lr() / bias_correction1)};
      // A checkpoint loaded from elsewhere may hold non-contiguous moments.
      if (!state.exp_avg().is_contiguous()) state.exp_avg(state.exp_avg().contiguous());
      if (!state.exp_avg_sq().is_contiguous()) state.exp_avg_sq(state.exp_avg_sq().contiguous());
      float* values = parameter.data_ptr<float>();
      const float* gradient = parameter.grad().data_ptr<float>();
      float* exp_avg = state.exp_avg().data_ptr<float>();
      float* exp_avg_sq = state.exp_avg_sq().data_ptr<float>();
      at::parallel_for(0, parameter.numel(), kGrain, [&](int64_t begin, int64_t end) {
        update_range(values, gradient, exp_avg, exp_avg_sq, begin, end, scalars);
      });
      // Written through raw pointers: bump the version as an in-place op would, so autograd
      // still refuses a graph that saved the old values.
      parameter.unsafeGetTensorImpl()->bump_version();
    }
  }
  return loss;
}

}  // namespace moevit
