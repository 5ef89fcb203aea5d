#include "app/eval/evaluation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "app/run/config.h"
#include "app/run/data_setup.h"
#include "app/run/runtime.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

using testing::TempDir;

// Loss and top-1 hits summed over the loader, from logits computed by `logits_of`.
template <typename LogitsOf>
std::pair<double, double> loss_and_hits(ImageLoader& loader, LogitsOf logits_of) {
  double loss = 0, hits = 0;
  loader.start_epoch(0);
  while (std::optional<Batch> batch = loader.next_batch()) {
    const torch::Tensor logits = logits_of(batch->images);
    loss += torch::cross_entropy_loss(logits, batch->labels, {}, at::Reduction::Sum).item<double>();
    hits += logits.argmax(1).eq(batch->labels).sum().item<double>();
  }
  return {loss, hits};
}

TEST(Evaluation, MirrorAveragingClassifiesByTheMeanLogitsOfImageAndMirror) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 2, 5);
  const Config config =
      parse_config(testing::tiny_config_yaml(dir / "data", dir / "out", "topk"), "t.yaml", {});
  const Runtime runtime = configure_runtime(config.run, nullptr);
  torch::manual_seed(3);
  VisionTransformer model(config.model);
  model->eval();
  ImageLoader loader(scan_image_folder(dir / "data/val"), transform_options(config),
                     loader_options(config, TransformMode::kEval));

  torch::NoGradGuard no_grad;
  const auto [plain_loss, plain_hits] =
      loss_and_hits(loader, [&](const torch::Tensor& x) { return model->forward(x).logits; });
  const auto [mirror_loss, mirror_hits] = loss_and_hits(loader, [&](const torch::Tensor& x) {
    return (model->forward(x).logits + model->forward(x.flip({3})).logits) / 2;
  });
  const double images = 15;
  ASSERT_GT(std::abs(plain_loss - mirror_loss) / images, 1e-4);  // mirroring changes something

  const EvalResult plain = evaluate(*model, loader, runtime);
  const EvalResult averaged = evaluate(*model, loader, runtime, EvalOptions{true});
  EXPECT_EQ(averaged.images, 15);
  EXPECT_NEAR(plain.loss, plain_loss / images, 1e-5);
  EXPECT_NEAR(averaged.loss, mirror_loss / images, 1e-5);
  EXPECT_DOUBLE_EQ(averaged.top1, mirror_hits / images);
  EXPECT_DOUBLE_EQ(plain.top1, plain_hits / images);
  // Routing statistics come from the unmirrored pass alone: the same tokens as without.
  ASSERT_EQ(averaged.routing.size(), plain.routing.size());
  for (size_t layer = 0; layer < plain.routing.size(); ++layer)
    EXPECT_EQ(averaged.routing[layer].stats.tokens, plain.routing[layer].stats.tokens);
}

}  // namespace
}  // namespace moevit
