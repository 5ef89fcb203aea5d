#include "moe/gating.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace moevit {
namespace {

// One token, three experts, logits 0, ln 3, -ln 3: sigmoids 1/2, 3/4, 1/4 (sum 3/2), softmax
// 1/(1 + 3 + 1/3) = 3/13, 9/13, 1/13.
torch::Tensor three_logits() {
  return torch::tensor({0.0, std::log(3.0), -std::log(3.0)}, torch::kDouble).reshape({1, 1, 3});
}

TEST(Gating, SigmoidScoresChooseAndTheirNormalisedFormFeedsTheBalanceLosses) {
  const Gates gates =
      compute_gates(three_logits(), /*noise_std=*/1.0, /*training=*/false, GateFunction::kSigmoid);
  EXPECT_EQ(gates.scores.scalar_type(), torch::kFloat);  // float32 whatever the logits' dtype
  EXPECT_TRUE(
      torch::allclose(gates.scores, torch::tensor({0.5f, 0.75f, 0.25f}).reshape({1, 1, 3})));
  // The distributions: the scores over their sum 3/2.
  const torch::Tensor expected = torch::tensor({1.0f / 3, 0.5f, 1.0f / 6}).reshape({1, 1, 3});
  EXPECT_TRUE(torch::allclose(gates.probs, expected));
  EXPECT_TRUE(torch::allclose(gates.clean_probs, expected));
  EXPECT_NEAR(gates.probs.sum().item<double>(), 1.0, 1e-6);
  // No noise outside training.
  EXPECT_EQ(gates.noise_std, 0.0);
  EXPECT_TRUE(torch::equal(gates.noisy_logits, gates.clean_logits));
}

TEST(Gating, SoftmaxScoresAreTheDistribution) {
  const Gates gates = compute_gates(three_logits(), 1.0, /*training=*/false);  // softmax default
  const torch::Tensor expected =
      torch::tensor({3.0f / 13, 9.0f / 13, 1.0f / 13}).reshape({1, 1, 3});
  EXPECT_TRUE(torch::allclose(gates.scores, expected));
  EXPECT_TRUE(torch::equal(gates.probs, gates.scores));
  EXPECT_TRUE(torch::equal(gates.clean_probs, gates.scores));
}

TEST(Gating, TrainingNoiseEntersTheScoresButNotTheCleanDistribution) {
  torch::manual_seed(0);
  const torch::Tensor logits = torch::randn({2, 5, 4});
  for (const GateFunction gate : {GateFunction::kSoftmax, GateFunction::kSigmoid}) {
    const Gates gates = compute_gates(logits, /*noise_std=*/2.0, /*training=*/true, gate);
    EXPECT_DOUBLE_EQ(gates.noise_std, 2.0 / 4);  // σ = noise_std / E (vmoe)
    EXPECT_FALSE(torch::equal(gates.noisy_logits, gates.clean_logits));
    EXPECT_TRUE(torch::equal(gates.clean_logits, logits));
    const bool sigmoid = gate == GateFunction::kSigmoid;
    const torch::Tensor noisy =
        sigmoid ? torch::sigmoid(gates.noisy_logits) : torch::softmax(gates.noisy_logits, -1);
    EXPECT_TRUE(torch::allclose(gates.scores, noisy)) << to_string(gate);
    const torch::Tensor clean = sigmoid
                                    ? torch::sigmoid(logits) / torch::sigmoid(logits).sum(-1, true)
                                    : torch::softmax(logits, -1);
    EXPECT_TRUE(torch::allclose(gates.clean_probs, clean)) << to_string(gate);
    EXPECT_TRUE(torch::allclose(gates.probs.sum(-1), torch::ones({2, 5}))) << to_string(gate);
  }
}

}  // namespace
}  // namespace moevit
