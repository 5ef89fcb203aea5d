// Batched products of many small matrices ([..., M, K] @ [..., K, N]), as attention (B·heads
// products of N×d by d×N) and Soft-MoE dispatch/combine (one per group) need them.
//
// Why not at::matmul alone: on CPU in fp32, LibTorch 1.13 folds such views into bmm calls that
// copy non-contiguous operands and hand each matrix to the BLAS through its own dispatch. Here
// the matrices are shared out over LibTorch's threads and each goes straight to the BLAS's
// cblas_sgemm on the views as they are, found at run time in the BLAS LibTorch itself links
// (OpenBLAS runs single-threaded inside a parallel region). Measured on attention's score
// products, forward + backward (bench/small_matmul_bench.cpp, AMD EPYC, 2 threads): 8.2 ms vs
// 10.0 ms for batch 128 × 3 heads of 49×64; equal (33.6 ms) at ViT-S/16's 32 × 6 heads of 197×64.
// Everything else — bf16 and autocast, CUDA, a LibTorch whose BLAS is not visible — takes
// at::matmul, so results never depend on the path beyond fp32 rounding.
#pragma once

#include <ATen/ATen.h>

namespace moevit {

// a [..., M, K] and b [..., K, N] with the same batch dimensions → [..., M, N], differentiable.
// Either of the last two strides of each may be 1 (a transposed view needs no copy).
at::Tensor small_matmul(const at::Tensor& a, const at::Tensor& b);

// Whether small_matmul found a cblas_sgemm to call (false: it always uses at::matmul).
bool small_matmul_has_blas();

}  // namespace moevit
