// Reading a config: defaults, every key from YAML and --set, the dump that reads back, the
// shipped configs and the enums' written names (refusals: config_refusal_test.cpp).
#include "app/run/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "app/run/config_fields.h"

namespace moevit {
namespace {

using ::testing::HasSubstr;
using Overrides = std::vector<std::string>;

// A config in which every key but optim.warmup_epochs, moe.every and moe.last differs from
// its default (warmup_steps and blocks are set instead; at most one of each may be).
const char* kEveryKeyChanged = R"(
model: {image_size: 32, patch_size: 8, channels: 3, dim: 96, depth: 4, heads: 4, mlp_dim: 200,
        num_classes: 7, pooling: token, stem: conv, attention: lsa, dropout: 0.1, drop_path: 0.2,
        drop_path_moe: false}
moe:
  router: priority
  num_experts: 4
  k: 2
  renormalize: true
  gate_scale: 2.5
  expert_mlp_dim: 24
  noise_std: 0.5
  capacity_factor: 1.5
  eval_capacity_factor: 2
  capacity_multiple: 4
  priority_at: eval
  group_size: 2
  slots_per_expert: 3
  blocks: [0, 2]
  loss: {importance: 0.01, load: 0.02, switch: 0.03, z: 0.001}
  balance_scope: global
  gate: sigmoid
  top_p: 0.7
  balance: bias
  bias_rate: 0.01
  shared_experts: 2
  shared_expert_mlp_dim: 12
data:
  root: "some dir/with 'quotes' and: colons"
  val_split: 0.2
  workers: 3
  mean: [0.1, 0.2, 0.3]
  std: [0.4, 0.5, 0.6]
  random_resized_crop: true
  scale_min: 0.2
  scale_max: 0.9
  ratio_min: 0.5
  ratio_max: 2
  crop_padding: 4
  hflip: 0.25
  random_erasing: 0.3
  auto_augment: trivialaugment
  randaugment_n: 3
  randaugment_m: 12
  color_jitter: 0.4
  mixup: 0.8
  cutmix: 1.0
  mixup_prob: 0.9
  mixup_switch_prob: 0.4
  crop_fraction: 0.875
  eval_hflip: true
  max_pixels: 1000000
  drop_last: true
optim: {lr: 3.0e-4, min_lr: 1.0e-6, beta1: 0.8, beta2: 0.99, eps: 1.0e-6, weight_decay: 0.1,
        warmup_steps: 100, epochs: 3, steps: 500, batch_size: 16, accum_steps: 2, grad_clip: 0.5,
        label_smoothing: 0.2, aux_loss_weight: 0.5, ema_decay: 0.999, skip_nonfinite: 3}
run: {seed: 42, device: cpu, threads: 2, output_dir: runs/x, precision: bf16, log_every: 5,
      checkpoint_every_steps: 50, collective_timeout_s: 45}
)";

// Field-by-field equality through the key table, which covers every field.
void expect_same_values(const Config& expected, const Config& actual) {
  for (const ConfigField& row : config_fields())
    EXPECT_EQ(row.get(expected), row.get(actual)) << row.key;
}

std::vector<std::string> shipped_configs() {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(MOEVIT_SOURCE_DIR "/configs"))
    if (entry.path().extension() == ".yaml") paths.push_back(entry.path().string());
  return paths;
}

std::string shipped(const std::string& name) {
  return std::string(MOEVIT_SOURCE_DIR) + "/configs/" + name;
}

TEST(Config, EmptyTextGivesTheDefaults) {
  const Config config = parse_config("", "empty.yaml", {});
  EXPECT_EQ(config.source, "empty.yaml");
  EXPECT_EQ(config.model.image_size, 28);
  EXPECT_EQ(config.model.moe.router, RouterKind::kTopK);
  EXPECT_EQ(config.data.root, "");
  EXPECT_EQ(config.data.mean, std::vector<double>{0.5});
  EXPECT_EQ(config.data.max_pixels, 64'000'000);
  EXPECT_DOUBLE_EQ(config.optim.lr, 1e-3);
  EXPECT_EQ(config.optim.batch_size, 128);
  EXPECT_EQ(config.run.device, Device::kAuto);
  EXPECT_EQ(config.run.precision, Precision::kFp32);
  EXPECT_EQ(config.run.output_dir, "runs/default");
  expect_same_values(Config{}, config);
  EXPECT_EQ(parse_config("model:\nmoe:\n", "x", {}).model.dim, 192);  // empty sections
}

TEST(Config, ReadsEveryTypeFromNestedMaps) {
  const Config config = parse_config(kEveryKeyChanged, "all.yaml", {});
  EXPECT_EQ(config.model.pooling, Pooling::kClassToken);
  EXPECT_EQ(config.model.stem, Stem::kConv);
  EXPECT_EQ(config.model.attention, AttentionKind::kLocalitySelf);
  EXPECT_DOUBLE_EQ(config.model.dropout, 0.1);
  EXPECT_DOUBLE_EQ(config.model.drop_path, 0.2);
  EXPECT_FALSE(config.model.drop_path_moe);
  EXPECT_EQ(config.model.moe.router, RouterKind::kPriority);
  EXPECT_EQ(config.model.moe.experts_per_token, 2);
  EXPECT_TRUE(config.model.moe.renormalize_gates);
  EXPECT_DOUBLE_EQ(config.model.moe.gate_scale, 2.5);
  EXPECT_EQ(config.model.moe.expert_mlp_dim, 24);
  EXPECT_EQ(config.model.expert_mlp_dim(), 24);
  EXPECT_EQ(config.model.moe.priority_at, PriorityAt::kEval);
  EXPECT_DOUBLE_EQ(config.model.moe.loss_weights.switch_balance, 0.03);
  EXPECT_DOUBLE_EQ(config.model.moe.loss_weights.z_loss, 0.001);
  EXPECT_EQ(config.model.placement.blocks, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(config.data.root, "some dir/with 'quotes' and: colons");
  EXPECT_EQ(config.data.std, (std::vector<double>{0.4, 0.5, 0.6}));
  EXPECT_DOUBLE_EQ(config.data.ratio_max, 2.0);
  EXPECT_TRUE(config.data.drop_last);
  EXPECT_TRUE(config.data.eval_hflip);
  EXPECT_DOUBLE_EQ(config.data.random_erasing, 0.3);
  EXPECT_EQ(config.data.auto_augment, AutoAugmentKind::kTrivialAugment);
  EXPECT_EQ(config.data.randaugment_m, 12);
  EXPECT_DOUBLE_EQ(config.data.color_jitter, 0.4);
  EXPECT_DOUBLE_EQ(config.optim.lr, 3e-4);
  EXPECT_EQ(config.optim.steps, 500);
  EXPECT_EQ(config.run.device, Device::kCpu);
  EXPECT_EQ(config.run.precision, Precision::kBf16);
  EXPECT_EQ(config.run.checkpoint_every_steps, 50);
  EXPECT_EQ(config.run.collective_timeout_s, 45);
  // The fixture really changes every key but the three documented ones.
  const Config defaults;
  for (const ConfigField& row : config_fields()) {
    if (row.key == "optim.warmup_epochs" || row.key == "moe.every" || row.key == "moe.last")
      continue;
    EXPECT_NE(row.get(defaults), row.get(config)) << row.key;
  }
}

TEST(Config, OverridesApplyAfterTheFileForEveryType) {
  const Config config =
      parse_config("model: {dim: 192, channels: 3}\noptim: {lr: 0.1}\n", "x",
                   {"model.dim=96", "optim.lr=3e-4", "moe.renormalize=true",
                    "run.output_dir=runs/x=1", "run.device=cpu", "moe.router=none",
                    "moe.blocks=[1,3]", "data.mean=[0.1, 0.2, 0.3]", "data.root="});
  EXPECT_EQ(config.model.dim, 96);
  EXPECT_DOUBLE_EQ(config.optim.lr, 3e-4);
  EXPECT_TRUE(config.model.moe.renormalize_gates);
  EXPECT_EQ(config.run.output_dir, "runs/x=1");  // split at the first '='
  EXPECT_EQ(config.run.device, Device::kCpu);
  EXPECT_EQ(config.model.moe.router, RouterKind::kDense);  // "none" means dense
  EXPECT_EQ(config.model.placement.blocks, (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(config.data.mean, (std::vector<double>{0.1, 0.2, 0.3}));
  EXPECT_EQ(config.data.root, "");
  EXPECT_EQ(parse_config("", "x", {"optim.lr=1", "optim.lr=2"}).optim.lr, 2);  // last wins
}

TEST(Config, EveryKeyRoundTripsThroughSet) {
  const Config changed = parse_config(kEveryKeyChanged, "all.yaml", {});
  for (const ConfigField& row : config_fields()) {
    const Overrides overrides{row.key + "=" + row.get(changed)};
    const Config config = parse_config(kEveryKeyChanged, "all.yaml", overrides);
    EXPECT_EQ(row.get(config), row.get(changed)) << overrides[0];
  }
}

TEST(Config, PlacementOverrideReplacesTheFilesRule) {
  const Config blocks = parse_config("moe: {every: 3}\n", "x", {"moe.blocks=[0]"});
  EXPECT_EQ(blocks.model.placement.blocks, std::vector<int64_t>{0});
  EXPECT_EQ(blocks.model.placement.every, MoePlacement{}.every);
  const Config every = parse_config("moe: {last: 2}\n", "x", {"moe.every=3"});
  EXPECT_EQ(every.model.placement.last, 0);
  EXPECT_EQ(moe_block_ids(every.model), (std::vector<int64_t>{2, 5}));
}

TEST(Config, DumpParsesBackToAnEqualConfig) {
  for (const char* text : {"", kEveryKeyChanged}) {
    const Config config = parse_config(text, "round.yaml", {});
    const std::string dumped = dump_config(config);
    const Config again = parse_config(dumped, "dumped.yaml", {});
    expect_same_values(config, again);
    EXPECT_EQ(dump_config(again),
              "# moevit config resolved from dumped.yaml" + dumped.substr(dumped.find(':')));
  }
}

TEST(Config, DumpWritesEveryKeyAndTheUnusedPlacementRulesAsComments) {
  const std::string dumped =
      dump_config(load_config(shipped("vit-s16-soft.yaml"), {"moe.blocks=[6,7,8,9,10,11]"}));
  EXPECT_THAT(dumped, HasSubstr("\nmodel:\n  image_size: 224\n"));
  EXPECT_THAT(dumped, HasSubstr("\n  loss:\n    importance: 0.005\n"));
  EXPECT_THAT(dumped, HasSubstr("\n  blocks: [6, 7, 8, 9, 10, 11]\n"));
  EXPECT_THAT(dumped, HasSubstr("\n  # every: 2  (unused: moe.blocks is used)\n"));
  EXPECT_THAT(dumped, HasSubstr("\n  # last: 0  (unused: moe.blocks is used)\n"));
  EXPECT_THAT(dumped, HasSubstr("\n  root: \"data/imagenet\"\n"));
  EXPECT_THAT(dumped, HasSubstr("\n  lr: 0.001\n"));
  EXPECT_THAT(dumped, HasSubstr("\n  device: auto\n"));
  for (const ConfigField& row : config_fields())
    EXPECT_THAT(dumped, HasSubstr(row.key.substr(row.key.rfind('.') + 1) + ": ")) << row.key;
}

TEST(Config, EveryShippedConfigLoadsChecksAndRoundTrips) {
  const std::vector<std::string> paths = shipped_configs();
  EXPECT_GE(paths.size(), 7u);
  for (const std::string& path : paths) {
    SCOPED_TRACE(path);
    Config config;
    ASSERT_NO_THROW(config = load_config(path, {}));
    EXPECT_EQ(config.source, path);
    EXPECT_NO_THROW(check_config(config));
    expect_same_values(config, parse_config(dump_config(config), "dumped", {}));
  }
}

TEST(Config, ShippedConfigsResolveTheirMoeBlocks) {
  const auto blocks_of = [](const std::string& name) {
    return moe_block_ids(load_config(shipped(name), {}).model);
  };
  EXPECT_EQ(blocks_of("fmnist-dense.yaml"), std::vector<int64_t>{});
  EXPECT_EQ(blocks_of("fmnist-topk.yaml"), (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(blocks_of("fmnist-priority.yaml"), (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(blocks_of("fmnist-soft.yaml"), (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(blocks_of("vit-s16-topk.yaml"), (std::vector<int64_t>{9, 11}));
  EXPECT_EQ(blocks_of("vit-s16-soft.yaml"), (std::vector<int64_t>{9, 11}));
  const Config soft = load_config(shipped("fmnist-soft.yaml"), {});
  EXPECT_EQ(soft.model.moe.num_experts * soft.model.moe.slots_per_expert, 48);  // ≈ 49 tokens
  EXPECT_EQ(soft.model.num_tokens(), 49);
}

// The tables name values by position (ops/enum_names.h): every value's written name, pinned, so
// a reordered enum or table cannot swap two names unnoticed.
TEST(Config, EveryEnumValueIsWrittenByItsOwnName) {
  const std::vector<std::pair<std::string, std::string>> written_and_expected = {
      {to_string(RouterKind::kDense), "dense"},
      {to_string(RouterKind::kTopK), "topk"},
      {to_string(RouterKind::kPriority), "priority"},
      {to_string(RouterKind::kSoft), "soft"},
      {to_string(RouterKind::kExpertChoice), "expert_choice"},
      {to_string(GateFunction::kSoftmax), "softmax"},
      {to_string(GateFunction::kSigmoid), "sigmoid"},
      {to_string(BalanceMethod::kLoss), "loss"},
      {to_string(BalanceMethod::kBias), "bias"},
      {to_string(PriorityAt::kTrain), "train"},
      {to_string(PriorityAt::kEval), "eval"},
      {to_string(PriorityAt::kBoth), "both"},
      {to_string(BalanceScope::kMicro), "micro"},
      {to_string(BalanceScope::kGlobal), "global"},
      {to_string(Pooling::kGlobalAverage), "gap"},
      {to_string(Pooling::kClassToken), "token"},
      {to_string(Stem::kPatch), "patch"},
      {to_string(Stem::kConv), "conv"},
      {to_string(AttentionKind::kStandard), "standard"},
      {to_string(AttentionKind::kLocalitySelf), "lsa"},
      {to_string(Device::kAuto), "auto"},
      {to_string(Device::kCpu), "cpu"},
      {to_string(Device::kCuda), "cuda"},
      {to_string(Precision::kFp32), "fp32"},
      {to_string(Precision::kBf16), "bf16"},
      {to_string(AutoAugmentKind::kNone), "none"},
      {to_string(AutoAugmentKind::kRandAugment), "randaugment"},
      {to_string(AutoAugmentKind::kTrivialAugment), "trivialaugment"},
  };
  for (const auto& [written, expected] : written_and_expected) EXPECT_EQ(written, expected);
  // The alias is read, and written back by the canonical name.
  EXPECT_EQ(parse_config("moe:\n  router: none\n", "test.yaml", {}).model.moe.router,
            RouterKind::kDense);
  EXPECT_NE(
      dump_config(parse_config("moe:\n  router: none\n", "test.yaml", {})).find("router: dense"),
      std::string::npos);
}

TEST(Config, BiasBalancingZeroesTheBalanceLossesNotGivenExplicitly) {
  const Config loss = parse_config("", "x", {});
  EXPECT_EQ(loss.model.moe.balance, BalanceMethod::kLoss);
  EXPECT_GT(loss.model.moe.loss_weights.importance, 0);  // V-MoE's defaults stay without bias
  const Config bias = parse_config("moe: {balance: bias, loss: {switch: 0.001}}\n", "x", {});
  EXPECT_EQ(bias.model.moe.loss_weights.importance, 0);
  EXPECT_EQ(bias.model.moe.loss_weights.load, 0);
  EXPECT_EQ(bias.model.moe.loss_weights.switch_balance, 0.001);  // given: kept
  const Config by_set = parse_config("", "x", {"moe.balance=bias", "moe.loss.load=0.002"});
  EXPECT_EQ(by_set.model.moe.loss_weights.importance, 0);
  EXPECT_EQ(by_set.model.moe.loss_weights.load, 0.002);
  // The resolved config (config.yaml of a run) reads back to the same weights.
  expect_same_values(bias, parse_config(dump_config(bias), "dump", {}));
  // Global scope is allowed with the bias alone (its loads are always global).
  EXPECT_EQ(parse_config("", "x", {"moe.balance=bias", "moe.balance_scope=global"})
                .model.moe.balance_scope,
            BalanceScope::kGlobal);
}

}  // namespace
}  // namespace moevit
