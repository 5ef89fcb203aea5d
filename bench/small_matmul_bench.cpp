// small_matmul against at::matmul on attention's products (fp32, forward + backward): the
// B·heads score products of N×d by d×N, q and kᵀ as the views attention makes of its qkv.
// Shapes: Fashion-MNIST backbone (batch 128, 49 tokens, 3 heads of 64) and ViT-S/16 at 224
// (batch 32, 197 tokens, 6 heads of 64).
//   build/moevit_bench --benchmark_filter='AttentionScores'
#include <torch/torch.h>

#include "bench/bench_setup.h"
#include "ops/small_matmul.h"

namespace moevit {
namespace {

struct AttentionShape {
  int64_t batch, tokens, heads, head_dim;
};
constexpr AttentionShape kAttentionShapes[] = {{128, 49, 3, 64}, {32, 197, 6, 64}};

// Arg 0: shape index; arg 1: 0 = at::matmul, 1 = small_matmul.
void BM_AttentionScores(benchmark::State& state) {
  use_every_core();
  const AttentionShape& shape = kAttentionShapes[state.range(0)];
  const torch::Tensor qkv =
      torch::randn({shape.batch, shape.tokens, 3, shape.heads, shape.head_dim})
          .permute({2, 0, 3, 1, 4})
          .requires_grad_();
  const bool small = state.range(1) == 1;
  for (auto _ : state) {
    const std::vector<torch::Tensor> parts = qkv.unbind(0);
    const torch::Tensor query = parts[0] * 0.125, key_t = parts[1].transpose(-2, -1);
    const torch::Tensor scores = small ? small_matmul(query, key_t) : torch::matmul(query, key_t);
    scores.sum().backward();
  }
  state.SetLabel(small ? "small_matmul" : "at::matmul");
}
BENCHMARK(BM_AttentionScores)
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->MinTime(1.0);

}  // namespace
}  // namespace moevit
