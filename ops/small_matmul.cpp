#include "ops/small_matmul.h"

#include "ops/autocast.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/autograd.h>
#include <torch/version.h>

#include <limits>
#include <optional>

#include <vector>

namespace moevit {

namespace {

// cblas_sgemm's C prototype with its enums as ints (the values are fixed by the CBLAS standard),
// so no BLAS header or link flag is needed: the symbol is looked up in the running process.
using CblasSgemm = void (*)(int order, int transpose_a, int transpose_b, int m, int n, int k,
                            float alpha, const float* a, int lda, const float* b, int ldb,
                            float beta, float* c, int ldc);
constexpr int kRowMajor = 101, kNoTranspose = 111, kTranspose = 112;

CblasSgemm find_sgemm() {
  static const CblasSgemm sgemm = reinterpret_cast<CblasSgemm>(dlsym(RTLD_DEFAULT, "cblas_sgemm"));
  return sgemm;
}

// How a [M, K] matrix of `tensor` (last two dims) lies in memory for a row-major BLAS call.
struct MatrixLayout {
  int transpose = kNoTranspose;
  int leading_dimension = 0;
};

std::optional<MatrixLayout> layout_of(const at::Tensor& tensor) {
  const int64_t rows = tensor.size(-2), cols = tensor.size(-1);
  if (tensor.stride(-1) == 1 && tensor.stride(-2) >= std::max<int64_t>(1, cols))
    return MatrixLayout{kNoTranspose, static_cast<int>(tensor.stride(-2))};
  if (tensor.stride(-2) == 1 && tensor.stride(-1) >= std::max<int64_t>(1, rows))
    return MatrixLayout{kTranspose, static_cast<int>(tensor.stride(-1))};
  return std::nullopt;
}

// Element offset of each batch matrix of `tensor` (all dims but the last two).
std::vector<int64_t> batch_offsets(const at::Tensor& tensor) {
  const int64_t batch_dims = tensor.dim() - 2;
  std::vector<int64_t> offsets{0};
  for (int64_t dim = 0; dim < batch_dims; ++dim) {
    std::vector<int64_t> next;
    next.reserve(offsets.size() * tensor.size(dim));
    for (int64_t offset : offsets)
      for (int64_t index = 0; index < tensor.size(dim); ++index)
        next.push_back(offset + index * tensor.stride(dim));
    offsets = std::move(next);
  }
  return offsets;
}

bool fits_int(int64_t value) {
  return value <= std::numeric_limits<int>::max();
}

// The BLAS path applies: fp32 CPU tensors, no autocast, same batch shape, BLAS-friendly layouts.
bool blas_applies(const at::Tensor& a, const at::Tensor& b) {
  if (!find_sgemm() || cpu_autocast_enabled()) return false;
  if (!a.device().is_cpu() || !b.device().is_cpu() || a.scalar_type() != at::kFloat ||
      b.scalar_type() != at::kFloat || a.dim() < 3 || a.dim() != b.dim())
    return false;
  if (a.sizes().slice(0, a.dim() - 2) != b.sizes().slice(0, b.dim() - 2) ||
      a.size(-1) != b.size(-2))
    return false;
  return layout_of(a) && layout_of(b) && fits_int(a.numel()) && fits_int(b.numel());
}

// a @ b by cblas_sgemm per matrix, the matrices shared out over LibTorch's threads.
at::Tensor blas_matmul(const at::Tensor& a, const at::Tensor& b) {
  const int64_t rows = a.size(-2), inner = a.size(-1), cols = b.size(-1);
  std::vector<int64_t> shape(a.sizes().begin(), a.sizes().end() - 2);
  shape.push_back(rows);
  shape.push_back(cols);
  at::Tensor out = at::empty(shape, a.options());
  const std::vector<int64_t> a_offsets = batch_offsets(a), b_offsets = batch_offsets(b);
  const MatrixLayout a_layout = *layout_of(a), b_layout = *layout_of(b);
  const float* a_data = a.data_ptr<float>();
  const float* b_data = b.data_ptr<float>();
  float* out_data = out.data_ptr<float>();
  const CblasSgemm sgemm = find_sgemm();
  const int64_t matrix_work = rows * inner * cols;
  // At least ~64k multiply-adds per task, so scheduling stays small next to the arithmetic.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, matrix_work));
  at::parallel_for(
      0, static_cast<int64_t>(a_offsets.size()), grain, [&](int64_t begin, int64_t end) {
        for (int64_t matrix = begin; matrix < end; ++matrix)
          sgemm(kRowMajor, a_layout.transpose, b_layout.transpose, static_cast<int>(rows),
                static_cast<int>(cols), static_cast<int>(inner), 1.0f, a_data + a_offsets[matrix],
                a_layout.leading_dimension, b_data + b_offsets[matrix], b_layout.leading_dimension,
                0.0f, out_data + matrix * rows * cols, static_cast<int>(cols));
      });
  return out;
}

at::Tensor product(const at::Tensor& a, const at::Tensor& b) {
  return blas_applies(a, b) ? blas_matmul(a, b) : at::matmul(a, b);
}

struct SmallMatmul : public torch::autograd::Function<SmallMatmul> {
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& a,
                            const at::Tensor& b) {
    context->save_for_backward({a, b});
    return blas_matmul(a, b);
  }
  // d(a @ b): grad_a = grad · bᵀ, grad_b = aᵀ · grad (transposed views, no copies).
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grads) {
    const auto saved = context->get_saved_variables();
    const at::Tensor& a = saved[0];
    const at::Tensor& b = saved[1];
    const at::Tensor grad = grads[0].contiguous();
    at::Tensor grad_a, grad_b;
    if (context->needs_input_grad(0)) grad_a = product(grad, b.transpose(-2, -1));
    if (context->needs_input_grad(1)) grad_b = product(a.transpose(-2, -1), grad);
    return {grad_a, grad_b};
  }
};

}  // namespace

at::Tensor small_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!blas_applies(a, b)) return at::matmul(a, b);
  if (!a.requires_grad() && !b.requires_grad()) return blas_matmul(a, b);
  return SmallMatmul::apply(a, b);
}

bool small_matmul_has_blas() {
  return find_sgemm() != nullptr;
}

}  // namespace moevit
