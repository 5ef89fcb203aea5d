#include "app/figures/heatmap_routing.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "moe/dispatch_plan.h"

namespace moevit {

namespace {

// [G,S,...] → [B,P,...]: per image, the patch tokens only.
at::Tensor per_image_patches(const at::Tensor& grouped, int64_t batch_size,
                             int64_t leading_tokens) {
  const int64_t rows = grouped.size(0) * grouped.size(1);
  TORCH_CHECK(batch_size > 0 && rows % batch_size == 0, "patch_experts: ", rows,
              " routed tokens do not split into ", batch_size, " images");
  const int64_t tokens_per_image = rows / batch_size;
  TORCH_CHECK(leading_tokens >= 0 && leading_tokens < tokens_per_image,
              "patch_experts: expected 0 <= leading_tokens < ", tokens_per_image, ", got ",
              leading_tokens);
  std::vector<int64_t> shape{batch_size, tokens_per_image};
  for (int64_t axis = 2; axis < grouped.dim(); ++axis) shape.push_back(grouped.size(axis));
  return grouped.detach().cpu().reshape(shape).narrow(1, leading_tokens,
                                                      tokens_per_image - leading_tokens);
}

// [B,P,E·C] → [B,P,E]: a slot weight summed over each expert's C slots (slots are expert-major).
at::Tensor sum_over_slots(const at::Tensor& slot_weights, int64_t num_experts) {
  const int64_t slots = slot_weights.size(2);
  return slot_weights.to(at::kFloat)
      .reshape({slot_weights.size(0), slot_weights.size(1), num_experts, slots / num_experts})
      .sum(3);
}

template <typename T>
std::vector<T> row_values(const at::Tensor& matrix, int64_t row) {
  const at::Tensor values = matrix[row].contiguous();
  return std::vector<T>(values.data_ptr<T>(), values.data_ptr<T>() + values.numel());
}

}  // namespace

PatchExperts patch_experts(const DispatchPlan& plan, int64_t batch_size, int64_t leading_tokens) {
  PatchExperts experts;
  experts.soft = plan.is_soft();
  experts.num_experts = plan.num_experts;
  if (plan.is_soft()) {
    const at::Tensor combine = sum_over_slots(
        per_image_patches(plan.combine_weight, batch_size, leading_tokens), plan.num_experts);
    const auto [weight, expert] = combine.max(2);
    experts.expert = expert;
    experts.weight = weight.contiguous();
    experts.dropped = at::zeros(experts.expert.sizes(), at::kBool);
    experts.dispatch =
        sum_over_slots(per_image_patches(plan.dispatch_weight, batch_size, leading_tokens),
                       plan.num_experts)
            .permute({0, 2, 1})
            .contiguous();
    return experts;
  }
  // [B,P,K], choices best first. A choice was processed when its slot is in [0, capacity).
  const at::Tensor expert_index = per_image_patches(plan.expert_index, batch_size, leading_tokens);
  const at::Tensor gate = per_image_patches(plan.gate.detach(), batch_size, leading_tokens);
  const at::Tensor slot = per_image_patches(plan.slot_index, batch_size, leading_tokens);
  const at::Tensor processed = slot.ge(0).logical_and(slot.lt(plan.capacity));
  // The processed choice of the largest gate; choice 0 (the first choice) when none was.
  const at::Tensor shown =
      at::where(processed, gate.to(at::kFloat), at::full({}, -1.0f)).argmax(2, /*keepdim=*/true);
  const at::Tensor any_processed = processed.any(2);
  const at::Tensor choice =
      at::where(any_processed.unsqueeze(2), shown, at::zeros_like(shown));  // [B,P,1]
  experts.expert = expert_index.gather(2, choice).squeeze(2).contiguous();
  experts.weight = gate.gather(2, choice).squeeze(2).to(at::kFloat).contiguous();
  experts.dropped = any_processed.logical_not().contiguous();
  if (plan.experts_per_token() > 1) experts.experts_per_patch = processed.sum(2).contiguous();
  return experts;
}

ExpertAssignment image_assignment(const PatchExperts& experts, int64_t image,
                                  int64_t patches_per_side) {
  if (patches_per_side * patches_per_side != experts.patches())
    throw std::invalid_argument("image_assignment: " + std::to_string(experts.patches()) +
                                " patches are not a grid of " + std::to_string(patches_per_side) +
                                "²");
  ExpertAssignment assignment;
  assignment.patches_per_side = patches_per_side;
  assignment.num_experts = experts.num_experts;
  assignment.expert = row_values<int64_t>(experts.expert, image);
  assignment.weight = row_values<float>(experts.weight, image);
  if (!experts.soft) assignment.dropped = row_values<uint8_t>(experts.dropped.to(at::kByte), image);
  if (experts.experts_per_patch.defined())
    assignment.experts_per_patch = row_values<int64_t>(experts.experts_per_patch, image);
  return assignment;
}

std::vector<std::vector<float>> image_dispatch_maps(const PatchExperts& experts, int64_t image) {
  if (!experts.dispatch.defined())
    throw std::invalid_argument("image_dispatch_maps: only a soft layer has dispatch weights");
  std::vector<std::vector<float>> maps;
  const at::Tensor of_image = experts.dispatch[image];  // [E,P]
  for (int64_t expert = 0; expert < experts.num_experts; ++expert)
    maps.push_back(row_values<float>(of_image, expert));
  return maps;
}

}  // namespace moevit
