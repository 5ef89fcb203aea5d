#include "moe/dispatch_kernels.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace moevit {
namespace {

TEST(DispatchKernels, GatherFillsEachSlotFromItsTokenAndEmptySlotsWithZeros) {
  // 4 tokens, K = 2, 6 buffer rows: token 0 in rows 0 and 3, token 1 in row 2 (its second
  // choice dropped), token 2 in row 1, token 3 in row 5; row 4 is empty.
  const torch::Tensor slot_of_choice =
      torch::tensor({0, 3, 2, -1, 1, -1, 5, -1}, torch::kLong).reshape({4, 2});
  const torch::Tensor token_of_slot = torch::tensor({0, 2, 1, 0, -1, 3}, torch::kLong);
  const torch::Tensor tokens = torch::arange(12, torch::kFloat).reshape({4, 3}).requires_grad_();
  const torch::Tensor buffers = gather_slots(tokens, token_of_slot, slot_of_choice);
  const torch::Tensor expected =
      torch::tensor({0, 1, 2, 6, 7, 8, 3, 4, 5, 0, 1, 2, 0, 0, 0, 9, 10, 11}, torch::kFloat)
          .reshape({6, 3});
  EXPECT_TRUE(torch::equal(buffers, expected));
  // Backward: each token receives the gradient of every slot it fills.
  const torch::Tensor grad = torch::arange(18, torch::kFloat).reshape({6, 3});
  buffers.backward(grad);
  const torch::Tensor expected_grad = torch::stack({grad[0] + grad[3], grad[2], grad[1], grad[5]});
  EXPECT_TRUE(torch::equal(tokens.grad(), expected_grad));
}

TEST(DispatchKernels, CombineIsTheWeightedSumOfKeptChoicesWithBothGradients) {
  torch::manual_seed(0);
  const torch::Tensor slot_of_choice =
      torch::tensor({0, 3, 2, -1, 1, 4, 5, -1}, torch::kLong).reshape({4, 2});
  for (const auto dtype : {torch::kFloat, torch::kBFloat16}) {
    const torch::Tensor buffers = torch::randn({6, 5}).to(dtype).requires_grad_();
    const torch::Tensor weights = torch::rand({4, 2}).requires_grad_();
    const torch::Tensor out = combine_slots(buffers, weights, slot_of_choice);
    ASSERT_EQ(out.scalar_type(), torch::kFloat);  // summed and returned in float
    // Reference with index ops, in float.
    const torch::Tensor buffers_ref = buffers.detach().to(torch::kFloat).requires_grad_();
    const torch::Tensor weights_ref = weights.detach().clone().requires_grad_();
    const torch::Tensor kept = (slot_of_choice >= 0).to(torch::kFloat);
    const torch::Tensor rows =
        buffers_ref.index_select(0, slot_of_choice.clamp_min(0).reshape(-1)).reshape({4, 2, 5});
    const torch::Tensor expected = (rows * (weights_ref * kept).unsqueeze(2)).sum(1);
    const double tolerance = dtype == torch::kFloat ? 1e-6 : 2e-2;
    EXPECT_TRUE(torch::allclose(out.to(torch::kFloat), expected, tolerance, tolerance));
    const torch::Tensor grad = torch::randn({4, 5});
    out.backward(grad);
    expected.backward(grad);
    EXPECT_TRUE(torch::allclose(buffers.grad().to(torch::kFloat), buffers_ref.grad(), tolerance,
                                tolerance));
    // Dropped choices get no weight gradient; kept ones the dot product.
    EXPECT_TRUE(torch::allclose(weights.grad(), weights_ref.grad() * kept, tolerance, tolerance));
    EXPECT_EQ(weights.grad()[1][1].item<float>(), 0.0f);
    EXPECT_EQ(buffers.grad()[4].abs().sum().item<float>() > 0, true);  // row 4 belongs to (2,1)
  }
}

}  // namespace
}  // namespace moevit
