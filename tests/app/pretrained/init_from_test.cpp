// A run's first weights from a dense checkpoint: upcycled into MoE blocks it computes the dense
// model's logits at step 0 where each token's combine weights sum to 1 (k = 2, renormalised) and
// none is dropped; at another image size and class count its positions are resampled and its
// head is fresh; what has no counterpart is refused before any weight changes.
#include "app/pretrained/init_from.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "app/pretrained/timm_checkpoint.h"
#include "app/run/checkpoint.h"
#include "app/run/config.h"
#include "app/run/model_loading.h"
#include "tests/support/test_files.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using testing::TempDir;

// A tiny ViT (8×8 RGB, 4×4 patches, dim 8, depth 2, mlp 16, 3 classes, class-token pooling)
// with `moe` as its moe: section's keys.
Config tiny_config(const std::string& moe = "router: dense") {
  return parse_config(
      "model:\n  image_size: 8\n  patch_size: 4\n  channels: 3\n  dim: 8\n"
      "  depth: 2\n  heads: 2\n  mlp_dim: 16\n  num_classes: 3\n"
      "  pooling: token\nmoe:\n  " +
          moe + "\n",
      "tiny.yaml", {});
}

void write_dense_checkpoint(const std::string& path) {
  const Config config = tiny_config();
  torch::manual_seed(21);
  VisionTransformer model(config.model);
  CheckpointState state;
  state.config_yaml = dump_config(config);
  state.class_names = {"a", "b", "c"};
  save_checkpoint(path, *model, /*optimizer=*/nullptr, state);
}

// Both blocks MoE, 4 experts, k of them per token, renormalised (each token's combine weights
// sum to 1), capacity for every token (ceil(S·k·4/4) >= S).
std::string upcycled_moe(int k, const std::string& extra = "") {
  return "router: topk\n  num_experts: 4\n  k: " + std::to_string(k) +
         "\n  renormalize: true\n  capacity_factor: 4\n  eval_capacity_factor: 4\n"
         "  blocks: [0, 1]" +
         extra;
}

torch::Tensor logits_of(VisionTransformerImpl& model) {
  torch::manual_seed(22);
  const torch::Tensor images = torch::randn({3, 3, 8, 8});
  torch::NoGradGuard no_grad;
  model.eval();
  return model.forward(images).logits;
}

TEST(InitFrom, AnUpcycledMoeGivesTheDenseLogitsAtStepZero) {
  TempDir dir;
  write_dense_checkpoint(dir / "dense.pt");
  export_timm_safetensors(dir / "dense.pt", dir / "dense.safetensors");
  LoadedModel dense = load_model(dir / "dense.pt", {});
  const torch::Tensor expected = logits_of(*dense.model);
  // k = 2 renormalised: each token's two combine weights sum to 1. (moe/token_choice_router
  // renormalises only k > 1: at k = 1 the copied FFN is weighted by its softmax gate, about 1/E
  // with a fresh router, so an upcycled top-1 model does not start as the dense one.)
  for (const std::string source : {"dense.pt", "dense.safetensors"}) {
    const Config config = tiny_config(upcycled_moe(2));
    torch::manual_seed(23);
    VisionTransformer model(config.model);
    const std::vector<std::string> lines = initialize_from(dir / source, *model);
    EXPECT_THAT(lines, Contains("init: blocks 0, 1 upcycled: 4 experts each a copy of the "
                                "block's dense FFN (width 16); routers fresh"))
        << source;
    // fp32: the experts' batched matmuls sum in another order than the dense Linear's.
    EXPECT_TRUE(torch::allclose(logits_of(*model), expected, /*rtol=*/1e-5, /*atol=*/1e-5))
        << "from " << source << ": " << (logits_of(*model) - expected).abs().max().item<double>();
  }
}

TEST(InitFrom, SharedExpertsAndNarrowExpertsSayWhatTheyTook) {
  TempDir dir;
  write_dense_checkpoint(dir / "dense.pt");
  const Config config = tiny_config(upcycled_moe(2, "\n  expert_mlp_dim: 8\n  shared_experts: 1"));
  VisionTransformer model(config.model);
  EXPECT_THAT(initialize_from(dir / "dense.pt", *model),
              Contains("init: blocks 0, 1 upcycled: 4 experts each the hidden units [(e mod 2)·8, "
                       "+8) of the dense FFN's 16 (fc1 rows, fc2 columns, fc2's whole bias); the "
                       "shared experts copy it too; routers fresh"));
  LoadedModel dense = load_model(dir / "dense.pt", {});
  const auto parameters = model->named_parameters();
  EXPECT_TRUE(
      torch::equal(parameters["blocks.0.moe.experts.fc1_weight"][1],
                   dense.model->named_parameters()["blocks.0.mlp.fc1.weight"].narrow(0, 8, 8).t()));
}

TEST(InitFrom, AnotherImageSizeResamplesThePositionsAndAnotherClassCountGetsAFreshHead) {
  TempDir dir;
  write_dense_checkpoint(dir / "dense.pt");
  const Config bigger = parse_config(dump_config(tiny_config()), "tiny.yaml",
                                     {"model.image_size=16", "model.num_classes=5"});
  torch::manual_seed(24);
  VisionTransformer model(bigger.model);
  const torch::Tensor fresh_head = model->head->weight.clone();
  const std::vector<std::string> lines = initialize_from(dir / "dense.pt", *model);
  EXPECT_THAT(lines, Contains("init: position embeddings resampled from a 2×2 to a 4×4 patch "
                              "grid (bilinear, class token kept)"));
  EXPECT_THAT(lines, Contains("init: a fresh head (5 classes; the file's has 3)"));
  EXPECT_TRUE(torch::equal(model->head->weight, fresh_head));
  LoadedModel dense = load_model(dir / "dense.pt", {});
  EXPECT_TRUE(torch::equal(model->norm->weight, dense.model->norm->weight));
  EXPECT_TRUE(torch::equal(model->position_embedding.narrow(1, 0, 1),
                           dense.model->position_embedding.narrow(1, 0, 1)));
}

TEST(InitFrom, WhatHasNoCounterpartIsRefusedBeforeAnyWeightChanges) {
  TempDir dir;
  write_dense_checkpoint(dir / "dense.pt");
  const Config gap = parse_config(dump_config(tiny_config()), "tiny.yaml", {"model.pooling=gap"});
  VisionTransformer model(gap.model);
  const torch::Tensor before = model->norm->weight.clone();
  EXPECT_THAT(testing::error_message([&] { initialize_from(dir / "dense.pt", *model); }),
              HasSubstr(R"(dense.pt: tensor "position_embedding": expected shape [1, 4, 8] (the )"
                        R"(run's model), got [1, 5, 8])"));
  EXPECT_TRUE(torch::equal(model->norm->weight, before));
}

}  // namespace
}  // namespace moevit
