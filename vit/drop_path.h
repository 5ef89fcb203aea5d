// Stochastic depth ("drop path", Huang et al. 2016; timm's DropPath): in training, each sample's
// residual branch is dropped whole with probability p and kept scaled by 1/(1-p), so the
// expected branch is unchanged and evaluation uses the plain branch.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace moevit {

// branch [B,...] → branch with each sample zeroed with probability `rate` and the rest scaled
// by 1/(1-rate); the identity when !training or rate == 0.
torch::Tensor drop_path(const torch::Tensor& branch, double rate, bool training);

// timm's schedule: rate rises linearly over depth, 0 at the first block and `max_rate` at the
// last (timm VisionTransformer: torch.linspace(0, drop_path_rate, depth)).
std::vector<double> drop_path_rates(double max_rate, int64_t depth);

}  // namespace moevit
