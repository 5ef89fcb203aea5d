#include "vit/block.h"

#include "vit/drop_path.h"

namespace moevit {

BlockImpl::BlockImpl(const ModelConfig& config, FfnLayer ffn_layer, BlockDropPath drop_path)
    : drop_path_(drop_path) {
  TORCH_CHECK(ffn_layer != nullptr, "Block: expected an FFN layer (dense_ffn or moe_ffn)");
  const auto norm_options = torch::nn::LayerNormOptions({config.dim}).eps(1e-6);
  norm1 = register_module("norm1", torch::nn::LayerNorm(norm_options));
  attention = register_module(
      "attention", Attention(config.dim, config.heads, config.dropout, config.attention));
  norm2 = register_module("norm2", torch::nn::LayerNorm(norm_options));
  // Built here, after the attention, so a seed draws the same initial values as ever (the soft
  // router's phi keeps its construction draw) and the registration order, hence the state
  // dict's, is unchanged.
  ffn_ = ffn_layer(config);
  register_module(ffn_->name(), ffn_->module());
}

namespace {

// residual + branch in the residual's dtype. Under bf16 autocast the residual stream is fp32
// and the branches bf16: a mixed add promotes element by element on a slow unvectorised path,
// in the forward and again where autograd sums the two gradients of the residual (measured:
// ~1.4 ms per add of a 128×49×192 batch); an explicit cast first is one fast conversion.
torch::Tensor add_residual(const torch::Tensor& residual, const torch::Tensor& branch) {
  return residual + branch.to(residual.scalar_type());
}

// Σ over tokens of sqrt(mean over channels of x²); x [B,N,D].
double sum_of_token_rms(const torch::Tensor& values) {
  return values.detach().to(torch::kDouble).pow(2).mean(-1).sqrt().sum().item<double>();
}

BranchSize measure(const torch::Tensor& residual, const torch::Tensor& branch) {
  return {sum_of_token_rms(branch), sum_of_token_rms(residual),
          residual.numel() / residual.size(-1)};
}

}  // namespace

BranchSize& BranchSize::operator+=(const BranchSize& other) {
  branch_rms_sum += other.branch_rms_sum;
  residual_rms_sum += other.residual_rms_sum;
  tokens += other.tokens;
  return *this;
}

BlockOutput BlockImpl::forward(const torch::Tensor& tokens, bool measure_branch) {
  BlockOutput output;
  const torch::Tensor attended =
      add_residual(tokens, moevit::drop_path(attention->forward(norm1->forward(tokens)),
                                             drop_path_.attention, is_training()));
  // An MoE layer still routes (and its aux losses count) for a dropped sample: as in timm, only
  // the branch's contribution to the residual is dropped.
  FfnOutput ffn_output = ffn_->forward(norm2->forward(attended));
  output.routing = std::move(ffn_output.routing);
  const torch::Tensor& branch = ffn_output.tokens;
  if (measure_branch) output.ffn_size = measure(attended, branch);
  output.tokens = add_residual(attended, moevit::drop_path(branch, drop_path_.ffn, is_training()));
  return output;
}

}  // namespace moevit
