// Experts from a dense FFN: full copies, or slices that together hold the dense FFN once.
#include "app/pretrained/upcycle.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <stdexcept>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kDim = 4, kHidden = 8;

DenseFfnWeights random_ffn() {
  torch::manual_seed(11);
  return {torch::randn({kHidden, kDim}), torch::randn({kHidden}), torch::randn({kDim, kHidden}),
          torch::randn({kDim})};
}

// x [T,D] through the dense FFN, as vit/mlp does (exact GELU).
torch::Tensor dense_forward(const DenseFfnWeights& dense, const torch::Tensor& x) {
  return torch::addmm(dense.fc2_bias,
                      torch::gelu(torch::addmm(dense.fc1_bias, x, dense.fc1_weight.t())),
                      dense.fc2_weight.t());
}

// x [T,D] through expert `e`, as moe/experts does.
torch::Tensor expert_forward(const ExpertWeights& experts, int64_t e, const torch::Tensor& x) {
  return torch::addmm(experts.fc2_bias[e],
                      torch::gelu(torch::addmm(experts.fc1_bias[e], x, experts.fc1_weight[e])),
                      experts.fc2_weight[e]);
}

TEST(Upcycle, FullWidthExpertsAreCopiesOfTheDenseFfn) {
  const DenseFfnWeights dense = random_ffn();
  const ExpertWeights experts = experts_from_dense(dense, 3, kHidden, "moe.expert_mlp_dim");
  EXPECT_EQ(experts.fc1_weight.sizes(), (std::vector<int64_t>{3, kDim, kHidden}));
  EXPECT_EQ(experts.fc1_bias.sizes(), (std::vector<int64_t>{3, 1, kHidden}));
  EXPECT_EQ(experts.fc2_weight.sizes(), (std::vector<int64_t>{3, kHidden, kDim}));
  EXPECT_EQ(experts.fc2_bias.sizes(), (std::vector<int64_t>{3, 1, kDim}));
  const torch::Tensor x = torch::randn({5, kDim});
  for (int64_t e = 0; e < 3; ++e) {
    EXPECT_TRUE(torch::equal(experts.fc1_weight[e], dense.fc1_weight.t())) << e;
    EXPECT_TRUE(torch::allclose(expert_forward(experts, e, x), dense_forward(dense, x), 1e-5, 1e-5))
        << e;
  }
}

TEST(Upcycle, NarrowExpertsTakeMatchingSlicesThatSumToTheDenseFfn) {
  const DenseFfnWeights dense = random_ffn();
  const ExpertWeights experts = experts_from_dense(dense, 3, kHidden / 2, "moe.expert_mlp_dim");
  // Expert 0: hidden units 0..3; expert 1: 4..7; expert 2: 0..3 again (2 mod 2 = 0).
  EXPECT_TRUE(torch::equal(experts.fc1_weight[1], dense.fc1_weight.narrow(0, 4, 4).t()));
  EXPECT_TRUE(torch::equal(experts.fc2_weight[1], dense.fc2_weight.narrow(1, 4, 4).t()));
  EXPECT_TRUE(torch::equal(experts.fc1_bias[1][0], dense.fc1_bias.narrow(0, 4, 4)));
  EXPECT_TRUE(torch::equal(experts.fc1_weight[2], experts.fc1_weight[0]));
  EXPECT_TRUE(torch::equal(experts.fc2_bias[1][0], dense.fc2_bias));  // the whole bias each
  const torch::Tensor x = torch::randn({5, kDim});
  const torch::Tensor halves =
      expert_forward(experts, 0, x) + expert_forward(experts, 1, x) - dense.fc2_bias;
  EXPECT_TRUE(torch::allclose(halves, dense_forward(dense, x), 1e-5, 1e-5));

  EXPECT_THAT(
      testing::error_message([&] { experts_from_dense(dense, 2, 3, "moe.expert_mlp_dim"); }),
      HasSubstr("moe.expert_mlp_dim: expected a divisor of the dense FFN's width 8 to "
                "upcycle it, got 3"));
  EXPECT_THROW(experts_from_dense(dense, 2, 16, "moe.expert_mlp_dim"), std::invalid_argument);
}

TEST(Upcycle, SharedExpertsSideBySideAreTheDenseFfn) {
  const DenseFfnWeights dense = random_ffn();
  const ExpertWeights shared = shared_experts_from_dense(dense, 2, kHidden / 2);
  EXPECT_EQ(shared.fc1_weight.sizes(), (std::vector<int64_t>{1, kDim, kHidden}));
  EXPECT_EQ(shared.fc2_weight.sizes(), (std::vector<int64_t>{1, kHidden, kDim}));
  EXPECT_EQ(shared.fc2_bias.sizes(), (std::vector<int64_t>{1, 1, kDim}));
  EXPECT_TRUE(torch::equal(shared.fc1_weight[0], dense.fc1_weight.t()));
  const torch::Tensor x = torch::randn({5, kDim});
  EXPECT_TRUE(torch::allclose(expert_forward(shared, 0, x), dense_forward(dense, x), 1e-5, 1e-5));
}

}  // namespace
}  // namespace moevit
