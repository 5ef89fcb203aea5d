#include "ops/small_matmul.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

namespace moevit {
namespace {

// Values and both gradients of small_matmul against at::matmul, for a and b given as views.
void expect_same_as_matmul(const torch::Tensor& a_view, const torch::Tensor& b_view) {
  const torch::Tensor a = a_view.detach().requires_grad_();
  const torch::Tensor b = b_view.detach().requires_grad_();
  const torch::Tensor out = small_matmul(a, b);
  const torch::Tensor expected = torch::matmul(a.detach(), b.detach());
  ASSERT_EQ(out.sizes(), expected.sizes());
  EXPECT_TRUE(torch::allclose(out, expected, 1e-5, 1e-5));
  const torch::Tensor grad = torch::randn_like(out);
  out.backward(grad);
  const torch::Tensor a_reference = a.detach().clone().requires_grad_();
  const torch::Tensor b_reference = b.detach().clone().requires_grad_();
  torch::matmul(a_reference, b_reference).backward(grad);
  EXPECT_TRUE(torch::allclose(a.grad(), a_reference.grad(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(b.grad(), b_reference.grad(), 1e-5, 1e-5));
}

TEST(SmallMatmul, FindsTheBlasOfALibTorchOnASharedBlas) {
  // Debian's LibTorch (BLAS_INFO=generic) calls the system's shared BLAS, which exports
  // cblas_sgemm. A LibTorch with MKL linked in (pip's: BLAS_INFO=mkl) exports none, and
  // small_matmul then takes at::matmul: nothing to find.
  const std::string config = at::show_config();
  if (config.find("BLAS_INFO=generic") == std::string::npos &&
      config.find("BLAS_INFO=open") == std::string::npos)
    GTEST_SKIP() << "this LibTorch's BLAS is linked in, not shared";
  EXPECT_TRUE(small_matmul_has_blas());
}

TEST(SmallMatmul, EqualsMatmulForContiguousTransposedAndPermutedViews) {
  torch::manual_seed(0);
  expect_same_as_matmul(torch::randn({6, 5, 4}), torch::randn({6, 4, 3}));
  // Attention's shapes: q, k, v unbound from a permuted [B,N,3,h,d] tensor; kᵀ a view.
  const torch::Tensor qkv = torch::randn({2, 7, 3, 4, 5}).permute({2, 0, 3, 1, 4});
  const std::vector<torch::Tensor> parts = qkv.unbind(0);
  expect_same_as_matmul(parts[0], parts[1].transpose(-2, -1));  // [2,4,7,5] @ [2,4,5,7]
  expect_same_as_matmul(torch::randn({2, 4, 7, 7}), parts[2]);
  // Soft dispatch: weightsᵀ as a view of [G,S,M].
  expect_same_as_matmul(torch::randn({3, 9, 6}).transpose(1, 2), torch::randn({3, 9, 8}));
  // Batch of one, and many one-row matrices.
  expect_same_as_matmul(torch::randn({1, 3, 2}), torch::randn({1, 2, 4}));
  expect_same_as_matmul(torch::randn({50, 1, 3}), torch::randn({50, 3, 1}));
}

TEST(SmallMatmul, OtherCasesTakeMatmul) {
  // Broadcast batch dims, bf16 and 2-D products are all at::matmul's.
  const torch::Tensor a = torch::randn({2, 3, 4}), b = torch::randn({4, 5});
  EXPECT_TRUE(torch::allclose(small_matmul(a, b), torch::matmul(a, b)));
  const torch::Tensor a16 = a.to(torch::kBFloat16), b16 = torch::randn({2, 4, 5}, torch::kBFloat16);
  EXPECT_EQ(small_matmul(a16, b16).scalar_type(), torch::kBFloat16);
  EXPECT_TRUE(torch::equal(small_matmul(a16, b16), torch::matmul(a16, b16)));
}

}  // namespace
}  // namespace moevit
