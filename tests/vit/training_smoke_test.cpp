// 30 optimisation steps on a tiny synthetic task (which of four textures fills a noisy 8×8
// image: horizontal stripes, vertical stripes, checkerboard, flat grey) must clearly reduce
// the loss in each of the four modes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "tests/support/tiny_model.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

struct TextureData {
  torch::Tensor images;  // [B,1,8,8]
  torch::Tensor labels;  // [B]
};

TextureData make_texture_data(int64_t count) {
  TextureData data;
  data.labels = torch::randint(0, 4, {count}, torch::kLong);
  const torch::Tensor rows = torch::arange(8).reshape({8, 1}).expand({8, 8});
  const torch::Tensor columns = torch::arange(8).reshape({1, 8}).expand({8, 8});
  const std::vector<torch::Tensor> textures = {
      (rows % 2).to(torch::kFloat), (columns % 2).to(torch::kFloat),
      ((rows + columns) % 2).to(torch::kFloat), torch::full({8, 8}, 0.5)};
  data.images = torch::randn({count, 1, 8, 8}) * 0.3;
  for (int64_t i = 0; i < count; ++i) data.images[i][0] += textures[data.labels[i].item<int64_t>()];
  return data;
}

class TrainingSmoke : public ::testing::TestWithParam<RouterKind> {};

TEST_P(TrainingSmoke, ThirtyStepsReduceTheLossClearly) {
  torch::manual_seed(0);
  ModelConfig config = testing::tiny_model_config(GetParam());
  config.patch_size = 2;
  config.dim = 32;
  config.mlp_dim = 64;
  config.num_classes = 4;
  VisionTransformer model(config);
  torch::optim::AdamW optimizer(model->parameters(), torch::optim::AdamWOptions(3e-3));
  const TextureData data = make_texture_data(256);
  std::vector<double> losses;
  model->train();
  for (int64_t step = 0; step < 30; ++step) {
    const int64_t start = (step * 32) % 256;
    const VitOutput out = model->forward(data.images.slice(0, start, start + 32));
    const torch::Tensor loss =
        torch::cross_entropy_loss(out.logits, data.labels.slice(0, start, start + 32)) +
        out.aux.total;
    optimizer.zero_grad();
    loss.backward();
    optimizer.step();
    losses.push_back(loss.item<double>());
  }
  const double first = (losses[0] + losses[1] + losses[2] + losses[3] + losses[4]) / 5;
  const double last = (losses[25] + losses[26] + losses[27] + losses[28] + losses[29]) / 5;
  EXPECT_LT(last, 0.5 * first) << "first 5 steps " << first << ", last 5 steps " << last;
}

INSTANTIATE_TEST_SUITE_P(AllModes, TrainingSmoke,
                         ::testing::Values(RouterKind::kDense, RouterKind::kTopK,
                                           RouterKind::kPriority, RouterKind::kSoft),
                         [](const ::testing::TestParamInfo<RouterKind>& info) {
                           return to_string(info.param);
                         });

}  // namespace
}  // namespace moevit
