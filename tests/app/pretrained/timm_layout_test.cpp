// timm's ViT layout in moevit's names: a tiny timm-named state dict maps onto the model's own
// parameters, the model then computes what timm's forward computes, the mapping round-trips, and
// whatever one side cannot express is refused in one line naming the tensor or the config key.
#include "app/pretrained/timm_layout.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "app/pretrained/safetensors.h"
#include "tests/support/test_files.h"
#include "vit/vision_transformer.h"

namespace moevit {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kHeads = 2;
constexpr const char* kSource = "tiny.safetensors";
constexpr const char* kTinyTimm = "a timm ViT of depth 2, dim 8, mlp_dim 16, 3 classes";

// The state dict of timm's VisionTransformer(img_size=8, patch_size=4, in_chans=3, embed_dim=8,
// depth=2, num_heads=2, mlp_ratio=2, num_classes=3), names and shapes written out by hand from
// timm/models/vision_transformer.py. Tensor i (in this order) holds i + 0.01·(0, 1, 2, ...), so
// every value says where it came from.
NamedTensors tiny_timm_vit() {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
      {"cls_token", {1, 1, 8}},
      {"pos_embed", {1, 5, 8}},  // the class token + a 2×2 grid of 4×4 patches
      {"patch_embed.proj.weight", {8, 3, 4, 4}},
      {"patch_embed.proj.bias", {8}}};
  for (const char* block : {"0", "1"}) {
    const std::string prefix = std::string("blocks.") + block + ".";
    shapes.insert(shapes.end(), {{prefix + "norm1.weight", {8}},
                                 {prefix + "norm1.bias", {8}},
                                 {prefix + "attn.qkv.weight", {24, 8}},
                                 {prefix + "attn.qkv.bias", {24}},
                                 {prefix + "attn.proj.weight", {8, 8}},
                                 {prefix + "attn.proj.bias", {8}},
                                 {prefix + "norm2.weight", {8}},
                                 {prefix + "norm2.bias", {8}},
                                 {prefix + "mlp.fc1.weight", {16, 8}},
                                 {prefix + "mlp.fc1.bias", {16}},
                                 {prefix + "mlp.fc2.weight", {8, 16}},
                                 {prefix + "mlp.fc2.bias", {8}}});
  }
  shapes.insert(
      shapes.end(),
      {{"norm.weight", {8}}, {"norm.bias", {8}}, {"head.weight", {3, 8}}, {"head.bias", {3}}});
  NamedTensors tensors;
  for (size_t index = 0; index < shapes.size(); ++index) {
    const auto& [name, shape] = shapes[index];
    int64_t numel = 1;
    for (int64_t size : shape) numel *= size;
    tensors[name] =
        (torch::arange(numel, torch::kFloat) * 0.01 + static_cast<double>(index)).reshape(shape);
  }
  return tensors;
}

ModelConfig tiny_config() {
  return infer_timm_vit_config(tiny_timm_vit(), kHeads, kSource);
}

NamedTensors parameters_of(VisionTransformerImpl& model) {
  NamedTensors tensors;
  for (const auto& item : model.named_parameters()) tensors[item.key()] = item.value();
  return tensors;
}

// timm's VisionTransformer.forward (forward_features: patch_embed, _pos_embed, blocks, norm;
// forward_head: token 0, head) for the tensors of tiny_timm_vit, in ATen ops transcribed from
// timm/models/vision_transformer.py and timm/layers/attention.py, independent of vit/.
torch::Tensor timm_reference_logits(const NamedTensors& timm, const torch::Tensor& images) {
  const auto& t = timm;
  const auto norm = [&](const torch::Tensor& x, const std::string& layer) {
    return torch::layer_norm(x, {x.size(-1)}, t.at(layer + ".weight"), t.at(layer + ".bias"),
                             /*eps=*/1e-6);
  };
  const auto linear = [&](const torch::Tensor& x, const std::string& layer) {
    return torch::linear(x, t.at(layer + ".weight"), t.at(layer + ".bias"));
  };
  torch::Tensor x = torch::conv2d(images, t.at("patch_embed.proj.weight"),
                                  t.at("patch_embed.proj.bias"), /*stride=*/{4, 4});
  x = x.flatten(2).transpose(1, 2);  // [B, N, D], patches in row-major order
  const int64_t batch = x.size(0), dim = x.size(2), head_dim = dim / kHeads;
  x = torch::cat({t.at("cls_token").expand({batch, -1, -1}), x}, 1) + t.at("pos_embed");
  const int64_t tokens = x.size(1);
  for (const std::string block : {"blocks.0.", "blocks.1."}) {
    // Attention.forward: qkv(x).reshape(B, N, 3, heads, head_dim).permute(2, 0, 3, 1, 4).
    const torch::Tensor qkv = linear(norm(x, block + "norm1"), block + "attn.qkv")
                                  .reshape({batch, tokens, 3, kHeads, head_dim})
                                  .permute({2, 0, 3, 1, 4});
    const torch::Tensor query = qkv[0] * std::pow(static_cast<double>(head_dim), -0.5);
    const torch::Tensor weights =
        torch::softmax(torch::matmul(query, qkv[1].transpose(-2, -1)), -1);
    const torch::Tensor context =
        torch::matmul(weights, qkv[2]).transpose(1, 2).reshape({batch, tokens, dim});
    x = x + linear(context, block + "attn.proj");
    x = x +
        linear(torch::gelu(linear(norm(x, block + "norm2"), block + "mlp.fc1")), block + "mlp.fc2");
  }
  return linear(norm(x, "norm").select(1, 0), "head");
}

TEST(TimmLayout, InfersTheArchitectureFromTheShapes) {
  const ModelConfig config = tiny_config();
  EXPECT_EQ(config.dim, 8);
  EXPECT_EQ(config.depth, 2);
  EXPECT_EQ(config.heads, 2);
  EXPECT_EQ(config.patch_size, 4);
  EXPECT_EQ(config.image_size, 8);
  EXPECT_EQ(config.channels, 3);
  EXPECT_EQ(config.mlp_dim, 16);
  EXPECT_EQ(config.num_classes, 3);
  EXPECT_EQ(config.num_tokens(), 5);
  EXPECT_EQ(config.pooling, Pooling::kClassToken);
  EXPECT_EQ(config.stem, Stem::kPatch);
  EXPECT_EQ(config.attention, AttentionKind::kStandard);
  EXPECT_EQ(config.moe.router, RouterKind::kDense);
  EXPECT_TRUE(moe_block_ids(config).empty());
}

TEST(TimmLayout, MapsOntoTheModelsOwnParameterNamesShapesAndValues) {
  const NamedTensors timm = tiny_timm_vit();
  const ModelConfig config = tiny_config();
  const NamedTensors moevit = timm_to_moevit(timm, config, kSource);
  VisionTransformer model(config);
  EXPECT_TRUE(model->named_buffers().is_empty());  // the parameters are the whole state dict
  const NamedTensors parameters = parameters_of(*model);
  ASSERT_EQ(moevit.size(), parameters.size());
  for (const auto& [name, parameter] : parameters) {
    ASSERT_EQ(moevit.count(name), 1u) << name;
    EXPECT_EQ(moevit.at(name).sizes(), parameter.sizes()) << name;
  }
  const std::vector<std::pair<std::string, std::string>> moevit_and_timm = {
      {"class_token", "cls_token"},
      {"position_embedding", "pos_embed"},
      {"patch_embed.projection.weight", "patch_embed.proj.weight"},
      {"blocks.1.attention.qkv.weight", "blocks.1.attn.qkv.weight"},
      {"blocks.0.attention.projection.bias", "blocks.0.attn.proj.bias"},
      {"blocks.1.mlp.fc2.weight", "blocks.1.mlp.fc2.weight"},
      {"norm.bias", "norm.bias"},
      {"head.weight", "head.weight"}};
  for (const auto& [moevit_name, timm_name] : moevit_and_timm)
    EXPECT_TRUE(torch::equal(moevit.at(moevit_name), timm.at(timm_name))) << moevit_name;
  // Tensor 21 of tiny_timm_vit is blocks.1.attn.proj.bias; tensor 30 is head.weight, whose [2][5]
  // is its element 2·8 + 5 = 21.
  EXPECT_FLOAT_EQ(moevit.at("blocks.1.attention.projection.bias")[3].item<float>(), 21.03f);
  EXPECT_FLOAT_EQ(moevit.at("head.weight")[2][5].item<float>(), 30.21f);
}

TEST(TimmLayout, LoadedModelComputesTimmsForward) {
  torch::manual_seed(0);
  NamedTensors timm = tiny_timm_vit();
  for (auto& item : timm) item.second = torch::randn(item.second.sizes()) * 0.5;
  const ModelConfig config = tiny_config();
  const NamedTensors moevit = timm_to_moevit(timm, config, kSource);
  VisionTransformer model(config, WeightInit::kOverwrittenByCheckpoint);
  torch::NoGradGuard no_grad;
  for (auto& item : model->named_parameters()) item.value().copy_(moevit.at(item.key()));
  model->eval();
  const torch::Tensor images = torch::randn({2, 3, 8, 8});
  const torch::Tensor logits = model->forward(images).logits;
  const torch::Tensor expected = timm_reference_logits(timm, images);
  ASSERT_EQ(logits.sizes(), expected.sizes());
  // fp32, two blocks of width 8: agreement to rounding (the same ops in another order).
  EXPECT_TRUE(torch::allclose(logits, expected, /*rtol=*/1e-5, /*atol=*/1e-5))
      << logits << "\nexpected\n"
      << expected;
}

TEST(TimmLayout, RoundTripsBothWaysAndExportsAModelUnderTimmsNames) {
  const NamedTensors timm = tiny_timm_vit();
  const ModelConfig config = tiny_config();
  const NamedTensors back = moevit_to_timm(timm_to_moevit(timm, config, kSource), config, "m.pt");
  ASSERT_EQ(back.size(), timm.size());
  for (const auto& [name, tensor] : timm) {
    ASSERT_EQ(back.count(name), 1u) << name;
    EXPECT_TRUE(torch::equal(back.at(name), tensor)) << name;
  }
  VisionTransformer model(config);
  const NamedTensors exported = moevit_to_timm(parameters_of(*model), config, "m.pt");
  std::set<std::string> exported_names, timm_names;
  for (const auto& item : exported) exported_names.insert(item.first);
  for (const auto& item : timm) timm_names.insert(item.first);
  EXPECT_EQ(exported_names, timm_names);
}

TEST(TimmLayout, HalfPrecisionSafetensorsFileMapsWithItsDtypeKept) {
  testing::TempDir dir;
  const std::string path = dir / "model.safetensors";
  NamedTensors half;
  for (const auto& [name, tensor] : tiny_timm_vit()) half[name] = tensor.to(torch::kHalf);
  write_safetensors(path, half, {{"format", "pt"}});
  const SafetensorsFile file = read_safetensors(path);
  const ModelConfig config = infer_timm_vit_config(file.tensors, kHeads, path);
  const NamedTensors moevit = timm_to_moevit(file.tensors, config, path);
  // The mapping renames only: copying into the fp32 model converts (Tensor::copy_).
  EXPECT_EQ(moevit.at("class_token").scalar_type(), torch::kHalf);
  EXPECT_TRUE(torch::equal(moevit.at("blocks.0.mlp.fc1.bias").to(torch::kFloat),
                           half.at("blocks.0.mlp.fc1.bias").to(torch::kFloat)));
}

// The message timm_to_moevit refuses `tensors` with, for the config of the intact tiny ViT.
std::string timm_refusal(const NamedTensors& tensors) {
  const ModelConfig config = tiny_config();
  return testing::error_message([&] { timm_to_moevit(tensors, config, kSource); });
}

TEST(TimmLayout, MissingExtraMisshapenAndIntegerTimmTensorsAreRefusedByName) {
  NamedTensors missing = tiny_timm_vit();
  missing.erase("blocks.1.mlp.fc2.bias");
  EXPECT_EQ(timm_refusal(missing), std::string(kSource) + R"(: tensor "blocks.1.mlp.fc2.bias": )" +
                                       "missing: " + kTinyTimm + " has it");

  NamedTensors layer_scale = tiny_timm_vit();
  layer_scale["blocks.0.ls1.gamma"] = torch::ones({8});
  EXPECT_EQ(timm_refusal(layer_scale),
            std::string(kSource) + R"(: tensor "blocks.0.ls1.gamma": not in )" + kTinyTimm +
                " (timm's layer scale (init_values), which moevit's ViT does not have)");

  NamedTensors fc_norm = tiny_timm_vit();
  fc_norm["fc_norm.weight"] = torch::ones({8});
  EXPECT_THAT(timm_refusal(fc_norm),
              HasSubstr(R"(tensor "fc_norm.weight": not in )" + std::string(kTinyTimm) +
                        " (timm's fc_norm after average pooling"));

  NamedTensors deeper = tiny_timm_vit();
  deeper["blocks.2.norm1.weight"] = torch::ones({8});
  EXPECT_EQ(timm_refusal(deeper),
            std::string(kSource) + R"(: tensor "blocks.2.norm1.weight": )" + "not in " + kTinyTimm);

  NamedTensors misshapen = tiny_timm_vit();
  misshapen["blocks.1.attn.qkv.weight"] = torch::zeros({24, 7});
  EXPECT_EQ(timm_refusal(misshapen), std::string(kSource) +
                                         R"(: tensor "blocks.1.attn.qkv.weight": expected shape )" +
                                         "[24, 8] (" + kTinyTimm + "), got [24, 7]");

  NamedTensors integer = tiny_timm_vit();
  integer["head.bias"] = torch::zeros({3}, torch::kLong);
  EXPECT_EQ(timm_refusal(integer), std::string(kSource) + R"(: tensor "head.bias": )" +
                                       "expected a floating-point tensor, got Long");
}

TEST(TimmLayout, ArchitectureInferenceRefusesNamingTheTensor) {
  const auto inference_refusal = [](const NamedTensors& tensors, int64_t heads = kHeads) {
    return testing::error_message([&] { infer_timm_vit_config(tensors, heads, kSource); });
  };
  NamedTensors odd_grid = tiny_timm_vit();
  odd_grid["pos_embed"] = torch::zeros({1, 6, 8});
  EXPECT_EQ(inference_refusal(odd_grid),
            std::string(kSource) + R"(: tensor "pos_embed": expected 1 + grid² tokens )" +
                "(the class token's position, then a square patch grid's), got 6");

  NamedTensors no_embed_class = tiny_timm_vit();
  no_embed_class["pos_embed"] = torch::zeros({1, 4, 8});
  EXPECT_THAT(inference_refusal(no_embed_class),
              HasSubstr(R"(tensor "pos_embed": expected 1 + grid² tokens)"));
  EXPECT_THAT(inference_refusal(no_embed_class), HasSubstr("got 4, a square grid alone: timm's "
                                                           "no_embed_class"));

  for (const std::string name : {"cls_token", "head.weight", "patch_embed.proj.weight"}) {
    NamedTensors without = tiny_timm_vit();
    without.erase(name);
    EXPECT_EQ(inference_refusal(without), std::string(kSource) + ": tensor \"" + name +
                                              "\": missing: moevit reads timm ViTs that have it");
  }

  NamedTensors oblong = tiny_timm_vit();
  oblong["patch_embed.proj.weight"] = torch::zeros({8, 3, 4, 2});
  EXPECT_EQ(inference_refusal(oblong), std::string(kSource) +
                                           R"(: tensor "patch_embed.proj.weight": expected a )" +
                                           "square P×P patch, got [8, 3, 4, 2]");

  NamedTensors blockless;
  for (const auto& [name, tensor] : tiny_timm_vit())
    if (name.rfind("blocks.", 0) != 0) blockless[name] = tensor;
  EXPECT_THAT(inference_refusal(blockless),
              HasSubstr(R"(tensor "blocks.0.norm1.weight": missing)"));

  EXPECT_THROW(infer_timm_vit_config(tiny_timm_vit(), 3, kSource), std::invalid_argument);
  EXPECT_EQ(inference_refusal(tiny_timm_vit(), 3),
            std::string(kSource) + ": model.heads: expected a divisor of model.dim (8), got 3");
}

TEST(TimmLayout, MoevitSideRefusesMissingAndUnknownTensors) {
  const ModelConfig config = tiny_config();
  VisionTransformer model(config);
  NamedTensors missing = parameters_of(*model);
  missing.erase("norm.bias");
  EXPECT_EQ(testing::error_message([&] { moevit_to_timm(missing, config, "m.pt"); }),
            R"(m.pt: tensor "norm.bias": missing: the moevit ViT of this config has it)");
  NamedTensors extra = parameters_of(*model);
  extra["blocks.0.attention.scale"] = torch::ones({2});
  EXPECT_EQ(testing::error_message([&] { moevit_to_timm(extra, config, "m.pt"); }),
            R"(m.pt: tensor "blocks.0.attention.scale": not in the moevit ViT of this config)");
}

TEST(TimmLayout, ExportRefusesWhatTimmsLayoutCannotExpressNamingTheKey) {
  const auto export_refusal = [](const ModelConfig& config) {
    EXPECT_THROW(moevit_to_timm({}, config, "m.pt"), std::invalid_argument);
    return testing::error_message([&] { moevit_to_timm({}, config, "m.pt"); });
  };
  ModelConfig conv_stem = tiny_config();
  conv_stem.stem = Stem::kConv;
  EXPECT_THAT(export_refusal(conv_stem), HasSubstr("model.stem: expected patch ("));
  EXPECT_THAT(export_refusal(conv_stem), HasSubstr("got conv"));

  ModelConfig lsa = tiny_config();
  lsa.attention = AttentionKind::kLocalitySelf;
  EXPECT_THAT(export_refusal(lsa), HasSubstr("model.attention: expected standard ("));
  EXPECT_THAT(export_refusal(lsa), HasSubstr("got lsa"));

  ModelConfig moe = tiny_config();
  moe.moe.router = RouterKind::kTopK;
  moe.moe.num_experts = 4;
  EXPECT_EQ(export_refusal(moe),
            "moe.router: expected dense (timm's ViT has no MoE blocks), got topk");

  ModelConfig gap = tiny_config();
  gap.pooling = Pooling::kGlobalAverage;
  EXPECT_THAT(export_refusal(gap), HasSubstr("model.pooling: expected token (moevit's gap "
                                             "normalises every token then averages"));
  EXPECT_THAT(export_refusal(gap), HasSubstr("got gap"));
}

}  // namespace
}  // namespace moevit
