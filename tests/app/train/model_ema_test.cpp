#include "app/train/model_ema.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/support/test_files.h"
#include "tests/support/tiny_model.h"

namespace moevit {
namespace {

TEST(ModelEma, DecayWarmsUpAsTensorFlowsNumUpdatesThenHoldsTheConfiguredValue) {
  EXPECT_DOUBLE_EQ(ModelEma::decay_at(0.999, 0), 0.1);
  EXPECT_DOUBLE_EQ(ModelEma::decay_at(0.999, 1), 2.0 / 11.0);
  EXPECT_DOUBLE_EQ(ModelEma::decay_at(0.999, 1000), 1001.0 / 1010.0);
  EXPECT_DOUBLE_EQ(ModelEma::decay_at(0.999, 9000), 0.999);  // 9001 / 9010 > 0.999
  EXPECT_DOUBLE_EQ(ModelEma::decay_at(0.5, 9), 0.5);         // 10 / 19 > 0.5
  EXPECT_DOUBLE_EQ(ModelEma::decay_at(0.5, 3), 4.0 / 13.0);
}

TEST(ModelEma, StartsAsACopyAndMovesByOneMinusDecayTowardTheTrainedWeights) {
  torch::manual_seed(0);
  VisionTransformer model(testing::tiny_model_config(RouterKind::kTopK));
  ModelEma ema(*model, 0.75);
  const auto trained = model->named_parameters();
  const auto averaged = ema.model().named_parameters();
  ASSERT_EQ(trained.size(), averaged.size());
  std::map<std::string, torch::Tensor> before;
  for (const auto& item : trained) {
    EXPECT_TRUE(torch::equal(averaged[item.key()], item.value())) << item.key();
    // A copy, not the same storage: training must not move the average by itself.
    EXPECT_NE(averaged[item.key()].data_ptr(), item.value().data_ptr()) << item.key();
    before[item.key()] = item.value().detach().clone();
  }
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : trained) item.value().add_(4.0);
  }
  ema.update(*model, /*step=*/100);  // decay_at = min(0.75, 101/110) = 0.75
  for (const auto& item : averaged) {
    // 0.75 · w + 0.25 · (w + 4) = w + 1
    EXPECT_TRUE(torch::allclose(item.value(), before[item.key()] + 1.0, 0, 1e-6)) << item.key();
    EXPECT_TRUE(torch::equal(trained[item.key()], before[item.key()] + 4.0)) << item.key();
  }
  ema.copy_from(*model);
  for (const auto& item : averaged)
    EXPECT_TRUE(torch::equal(item.value(), trained[item.key()])) << item.key();
}

TEST(ModelEma, RefusesADecayOutsideZeroToOne) {
  VisionTransformer model(testing::tiny_model_config(RouterKind::kTopK));
  for (double decay : {0.0, 1.0, -0.5})
    EXPECT_NE(testing::error_message([&] { ModelEma(*model, decay); }).find("optim.ema_decay"),
              std::string::npos)
        << decay;
}

}  // namespace
}  // namespace moevit
