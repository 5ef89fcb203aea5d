#include "app/train/global_balance.h"

#include "app/distributed/distributed.h"

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

void update_expert_biases(const std::vector<MoeLayer>& layers, World* world) {
  for (MoeLayer layer : layers) {  // a holder copy: the methods below are not const
    if (!layer->expert_bias.defined()) continue;
    at::Tensor counts = layer->take_chosen_counts().contiguous();
    if (world) world->all_reduce_sum(counts);  // every rank, layer by layer, in one order
    layer->update_expert_bias(counts);
  }
}

}  // namespace moevit
