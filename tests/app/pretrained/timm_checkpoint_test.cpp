// A checkpoint through timm's layout and back: export then import gives the same tensors, bit
// for bit, and the same logits; what the file's metadata lacks comes from the caller or timm's
// defaults; what contradicts the tensors, or what the layout cannot express, is refused in one
// line.
#include "app/pretrained/timm_checkpoint.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/pretrained/safetensors.h"
#include "app/pretrained/timm_layout.h"
#include "app/run/checkpoint.h"
#include "tests/support/test_files.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;

const std::vector<std::string> kClassNames = {"cat", "dog", "bird"};

// A tiny dense ViT that timm's layout expresses: 8×8 RGB, 4 patches of 4×4, dim 8, 2 heads.
Config tiny_timm_config(const std::string& router = "dense") {
  return parse_config(
      "model:\n  image_size: 8\n  patch_size: 4\n  channels: 3\n  dim: 8\n  depth: 2\n"
      "  heads: 2\n  mlp_dim: 16\n  num_classes: 3\n  pooling: token\n"
      "moe:\n  router: " +
          router +
          "\n  num_experts: 2\n  k: 1\n"
          "data:\n  mean: [0.5, 0.4, 0.3]\n  std: [0.2, 0.25, 0.3]\n  crop_fraction: 0.9\n",
      "tiny.yaml", {});
}

// A checkpoint of a seeded, freshly initialised model of `config`.
void write_tiny_checkpoint(const std::string& path, const Config& config) {
  torch::manual_seed(5);
  VisionTransformer model(config.model);
  CheckpointState state;
  state.config_yaml = dump_config(config);
  state.class_names = kClassNames;
  save_checkpoint(path, *model, /*optimizer=*/nullptr, state);
}

// The tiny model's tensors in timm's names, in a file without metadata (as the Hub ships them).
void write_bare_timm_file(const std::string& path) {
  const Config config = tiny_timm_config();
  torch::manual_seed(6);
  VisionTransformer model(config.model);
  NamedTensors tensors;
  for (const auto& item : model->named_parameters())
    tensors.emplace(item.key(), item.value().detach());
  write_safetensors(path, moevit_to_timm(tensors, config.model, "model"), {{"format", "pt"}});
}

TEST(TimmCheckpoint, ExportThenImportGivesTheSameTensorsAndLogits) {
  TempDir dir;
  const Config config = tiny_timm_config();
  write_tiny_checkpoint(dir / "original.pt", config);
  const TimmExport exported = export_timm_safetensors(dir / "original.pt", dir / "model.st");
  EXPECT_EQ(exported.tensors, 4 + 12 * 2 + 4);  // cls, pos, patch ×2; 12 a block; norm, head
  EXPECT_FALSE(exported.averaged_weights);

  const SafetensorsFile file = read_safetensors(dir / "model.st");
  EXPECT_EQ(file.metadata.at("heads"), "2");
  EXPECT_EQ(file.metadata.at("class_names"), R"(["cat","dog","bird"])");
  EXPECT_EQ(file.tensors.count("blocks.1.attn.qkv.weight"), 1u);

  const TimmImport imported = import_timm_safetensors(dir / "model.st", dir / "imported.pt", {});
  EXPECT_EQ(imported.class_names, kClassNames);
  EXPECT_EQ(imported.class_names_from, "metadata");
  EXPECT_EQ(imported.config.data.mean, config.data.mean);
  EXPECT_EQ(imported.config.data.std, config.data.std);
  EXPECT_EQ(imported.config.data.crop_fraction, 0.9);
  EXPECT_EQ(read_checkpoint_state(dir / "imported.pt").initialized_from, dir / "model.st");
  EXPECT_EQ(read_checkpoint_state(dir / "original.pt").initialized_from, "");

  LoadedModel original = load_model(dir / "original.pt", {});
  LoadedModel reloaded = load_model(dir / "imported.pt", {});
  EXPECT_EQ(reloaded.class_names, kClassNames);
  EXPECT_EQ(reloaded.config.model.heads, 2);
  const auto original_parameters = original.model->named_parameters();
  const auto reloaded_parameters = reloaded.model->named_parameters();
  ASSERT_EQ(reloaded_parameters.size(), original_parameters.size());
  for (const auto& item : original_parameters)
    EXPECT_TRUE(torch::equal(reloaded_parameters[item.key()], item.value())) << item.key();

  torch::manual_seed(7);
  const torch::Tensor images = torch::randn({4, 3, 8, 8});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(
      torch::equal(reloaded.model->forward(images).logits, original.model->forward(images).logits));
}

TEST(TimmCheckpoint, ExportRefusesWhatTheLayoutCannotExpressInOneLine) {
  TempDir dir;
  write_tiny_checkpoint(dir / "moe.pt", tiny_timm_config("topk"));
  try {
    export_timm_safetensors(dir / "moe.pt", dir / "moe.st");
    FAIL() << "an MoE checkpoint was exported";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("moe.pt: not expressible in timm's ViT layout: "
                                        "moe.router: expected dense"));
    EXPECT_EQ(std::string(error.what()).find('\n'), std::string::npos);
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "moe.st"));
}

TEST(TimmCheckpoint, AFileWithoutMetadataTakesTheHeadsFromTheCallerAndTimmsDefaults) {
  TempDir dir;
  write_bare_timm_file(dir / "hub.safetensors");
  EXPECT_THAT(
      testing::error_message([&] { read_timm_model(dir / "hub.safetensors", {}, nullptr); }),
      HasSubstr("hub.safetensors: the number of attention heads is in no tensor's shape and not in "
                "the file's __metadata__: give --heads N"));

  TimmImportOptions options;
  options.heads = 2;
  const TimmImport imported =
      import_timm_safetensors(dir / "hub.safetensors", dir / "hub.pt", options);
  EXPECT_EQ(imported.class_names, (std::vector<std::string>{"class_0", "class_1", "class_2"}));
  EXPECT_EQ(imported.class_names_from, "default");
  EXPECT_EQ(imported.config.data.mean, kImagenetMean);
  EXPECT_EQ(imported.config.data.std, kImagenetStd);
  EXPECT_EQ(imported.config.data.crop_fraction, kImagenetCropFraction);
  EXPECT_EQ(imported.config.model.pooling, Pooling::kClassToken);
  EXPECT_EQ(load_model(dir / "hub.pt", {}).class_names, imported.class_names);

  // --classes and --set win over the defaults.
  options.class_names = {"a", "b", "c"};
  options.overrides = {"data.mean=[0.5]", "data.std=[0.5]"};
  const TimmImport overridden = read_timm_model(dir / "hub.safetensors", options, nullptr);
  EXPECT_EQ(overridden.class_names, options.class_names);
  EXPECT_EQ(overridden.class_names_from, "--classes");
  EXPECT_EQ(overridden.config.data.mean, std::vector<double>{0.5});
}

TEST(TimmCheckpoint, ImportRefusesContradictionsNamingThem) {
  TempDir dir;
  write_bare_timm_file(dir / "hub.safetensors");
  const SafetensorsFile bare = read_safetensors(dir / "hub.safetensors");
  TimmImportOptions options;
  options.heads = 2;

  write_safetensors(dir / "wrong_dim.st", bare.tensors, {{"dim", "32"}});
  EXPECT_THAT(
      testing::error_message([&] { read_timm_model(dir / "wrong_dim.st", options, nullptr); }),
      HasSubstr("wrong_dim.st: __metadata__ \"dim\": says 32, the tensors' shapes say 8"));

  write_safetensors(dir / "bad_heads.st", bare.tensors, {{"heads", "two"}});
  EXPECT_THAT(testing::error_message([&] { read_timm_model(dir / "bad_heads.st", {}, nullptr); }),
              HasSubstr("bad_heads.st: __metadata__ \"heads\": expected JSON, got \"two\""));

  TimmImportOptions too_few = options;
  too_few.class_names = {"only"};
  EXPECT_THAT(
      testing::error_message([&] { read_timm_model(dir / "hub.safetensors", too_few, nullptr); }),
      HasSubstr("1 class names (--classes) for a head of 3 classes"));

  TimmImportOptions bigger = options;
  bigger.overrides = {"model.image_size=16"};
  EXPECT_THAT(
      testing::error_message([&] { read_timm_model(dir / "hub.safetensors", bigger, nullptr); }),
      HasSubstr("tensor \"pos_embed\""));
}

TEST(TimmCheckpoint, ClassNamesFileIsOneNamePerLine) {
  TempDir dir;
  testing::write_text(dir / "classes.txt", "tench\r\ngoldfish\n\ngreat white shark\n");
  EXPECT_EQ(read_class_names_file(dir / "classes.txt"),
            (std::vector<std::string>{"tench", "goldfish", "great white shark"}));
  testing::write_text(dir / "empty.txt", "\n");
  EXPECT_THROW(read_class_names_file(dir / "empty.txt"), std::invalid_argument);
  EXPECT_THROW(read_class_names_file(dir / "missing.txt"), std::invalid_argument);
}

}  // namespace
}  // namespace moevit
