// AdamW (Loshchilov & Hutter, arXiv 1711.05101) whose step reads and writes each parameter's
// memory once. LibTorch's AdamW::step runs nine tensor operations per parameter (decay, two for
// each moment, sqrt, divide, add eps, addcdiv), each a full pass over the parameter, plus two
// temporaries. On the 4 M parameters of the Fashion-MNIST MoE model the step takes ~10 ms that
// way and ~5.4 ms fused (docs/performance.md, "Changes and their effect").
//
// Same options, same per-parameter state (torch::optim::AdamWParamState) under the same keys,
// same save/load: a checkpoint written by one loads into the other and continues.
#pragma once

#include <torch/optim/adamw.h>

#include "app/run/optimizer_state_key.h"

namespace moevit {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;

  // One fused pass per float32 CPU parameter with a dense contiguous gradient; anything else
  // (CUDA, other dtypes, amsgrad, sparse gradients) takes LibTorch's step for the whole call.
  torch::Tensor step(LossClosure closure = nullptr) override;

 private:
  bool fusable() const;
};

}  // namespace moevit
