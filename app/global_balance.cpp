#include "app/global_balance.h"

#include "app/distributed.h"

namespace moevit {

GlobalBalance::GlobalBalance(const std::vector<MoeLayer>& layers, World* world) : world_(world) {
  for (size_t index = 0; index < layers.size(); ++index) {
    step_counts_.push_back(at::zeros({layers[index]->options().num_experts}, at::kDouble));
    MoeLayer layer = layers[index];
    layer->set_expert_count_reducer([this, index](const at::Tensor& local_counts) {
      at::Tensor counts = local_counts.detach().to(at::kDouble).contiguous();
      if (world_) world_->all_reduce_sum(counts);  // every rank calls it, layer by layer
      step_counts_[index] += counts;
      return step_counts_[index].to(at::kFloat);
    });
  }
}

void GlobalBalance::start_step() {
  for (at::Tensor& counts : step_counts_) counts.zero_();
}

}  // namespace moevit
