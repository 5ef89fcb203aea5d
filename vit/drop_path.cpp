#include "vit/drop_path.h"

namespace moevit {

torch::Tensor drop_path(const torch::Tensor& branch, double rate, bool training) {
  if (!training || rate == 0.0) return branch;
  const double keep = 1.0 - rate;
  std::vector<int64_t> mask_shape(branch.dim(), 1);
  mask_shape[0] = branch.size(0);
  // The mask is drawn in float32 whatever the branch's dtype, so a bf16 branch under autocast
  // gets the same Bernoulli draws and an exact 1/keep.
  const torch::Tensor kept =
      torch::empty(mask_shape, branch.options().dtype(torch::kFloat)).bernoulli_(keep);
  return branch * (kept / keep).to(branch.scalar_type());
}

std::vector<double> drop_path_rates(double max_rate, int64_t depth) {
  std::vector<double> rates(depth, 0.0);
  for (int64_t block = 1; block < depth; ++block)
    rates[block] = max_rate * static_cast<double>(block) / static_cast<double>(depth - 1);
  return rates;
}

}  // namespace moevit
