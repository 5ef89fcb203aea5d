// What the config reader refuses, and the one line it says: the file (and line) or --set, the
// key, what was expected and what it got.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "app/run/config.h"

namespace moevit {
namespace {

using ::testing::HasSubstr;
using Overrides = std::vector<std::string>;

// The message `action` throws std::invalid_argument with (an EXPECT failure if it returns).
std::string thrown_message(const std::function<void()>& action) {
  std::string message = "(accepted)";
  EXPECT_THROW(
      {
        try {
          action();
        } catch (const std::invalid_argument& error) {
          message = error.what();
          throw;
        }
      },
      std::invalid_argument);
  return message;
}

// The message parse_config refuses `yaml_text` with.
std::string refusal(const std::string& yaml_text, const Overrides& overrides = {}) {
  return thrown_message([&] { parse_config(yaml_text, "test.yaml", overrides); });
}

// The message parse_config refuses the overrides alone with.
std::string set_refusal(const Overrides& overrides) {
  return refusal("", overrides);
}

TEST(ConfigRefusal, UnknownKeysWithSuggestions) {
  EXPECT_EQ(refusal("moe:\n  num_expert: 4\n"),
            "test.yaml:2: moe.num_expert: unknown key, did you mean 'moe.num_experts'?");
  EXPECT_THAT(refusal("model:\n  num_experts: 4\n"), HasSubstr("did you mean 'moe.num_experts'?"));
  EXPECT_EQ(refusal("modle:\n  dim: 4\n"),
            "test.yaml:1: modle: unknown key, did you mean 'model'?");
  EXPECT_EQ(refusal("zzz: 1\n"), "test.yaml:1: zzz: unknown key");
  EXPECT_EQ(set_refusal({"optim.learning_rate=1"}),
            "test.yaml (--set): optim.learning_rate: unknown key");
  EXPECT_THAT(set_refusal({"optim.lrr=1"}), HasSubstr("did you mean 'optim.lr'?"));
  EXPECT_EQ(set_refusal({"moe.loss={z: 1}"}),
            "test.yaml (--set): moe.loss: expected one key of the section (e.g. "
            "moe.loss.<name>=value)");
}

TEST(ConfigRefusal, WrongTypesNameKeyExpectedAndGot) {
  EXPECT_EQ(refusal("model:\n  dim: abc\n"),
            "test.yaml:2: model.dim: expected an integer, got abc");
  const std::pair<const char*, const char*> cases[] = {
      // {yaml text, part of the message}
      {"model: {dim: 1.5}", "model.dim: expected an integer, got 1.5"},
      {"model: {dim: [1]}", "model.dim: expected an integer, got a list [1]"},
      {"model: {dim: {a: 1}}", "model.dim: expected an integer, got a map {a: 1}"},
      {"model: {dim: \"192\"}", "model.dim: expected an integer, got the string '192'"},
      {"model: {dim: }", "model.dim: expected an integer, got nothing"},
      {"optim: {lr: fast}", "optim.lr: expected a number, got fast"},
      {"optim: {lr: .inf}", "optim.lr: expected a finite number, got .inf"},
      {"moe: {renormalize: 3}", "moe.renormalize: expected true or false, got 3"},
      {"data: {root: [a]}", "data.root: expected a string, got a list [a]"},
      {"data: {mean: 0.5}", "data.mean: expected a non-empty list of numbers, got 0.5"},
      {"data: {mean: [0.5, x]}", "data.mean: expected a non-empty list of numbers, got a list"},
      {"moe: {blocks: []}", "moe.blocks: expected a non-empty list of block ids (integers)"},
  };
  for (const auto& [yaml_text, message] : cases)
    EXPECT_THAT(refusal(yaml_text), HasSubstr(message)) << yaml_text;
  EXPECT_EQ(refusal("model: 5\n"), "test.yaml:1: model: expected a map of model.* keys, got 5");
  EXPECT_THAT(refusal("[1, 2]\n"), HasSubstr("test.yaml: expected a map of sections"));
  EXPECT_EQ(set_refusal({"optim.batch_size=1.5"}),
            "test.yaml (--set): optim.batch_size: expected an integer, got 1.5");
}

TEST(ConfigRefusal, BadEnumsListTheAllowedValues) {
  EXPECT_EQ(refusal("moe:\n  router: top2\n"),
            "test.yaml:2: moe.router: expected one of dense|none|topk|priority|soft|expert_choice, "
            "got top2");
  EXPECT_THAT(set_refusal({"model.pooling=cls"}), HasSubstr("expected one of gap|token, got cls"));
  EXPECT_THAT(set_refusal({"model.attention=local"}),
              HasSubstr("model.attention: expected one of standard|lsa, got local"));
  EXPECT_THAT(set_refusal({"moe.priority_at=never"}),
              HasSubstr("one of train|eval|both, got never"));
  EXPECT_THAT(set_refusal({"run.device=gpu"}),
              HasSubstr("run.device: expected one of auto|cpu|cuda"));
  EXPECT_THAT(set_refusal({"run.precision=fp16"}),
              HasSubstr("expected one of fp32|bf16, got fp16"));
  EXPECT_EQ(set_refusal({"data.auto_augment=autoaugment"}),
            "test.yaml (--set): data.auto_augment: expected one of "
            "none|randaugment|trivialaugment, got autoaugment");
}

TEST(ConfigRefusal, MalformedSetAndYamlSyntax) {
  EXPECT_EQ(set_refusal({"optim.lr"}),
            "test.yaml (--set): expected key=value (e.g. optim.lr=3e-4), got 'optim.lr'");
  EXPECT_THAT(set_refusal({"=3"}), HasSubstr("expected key=value"));
  EXPECT_THAT(set_refusal({"moe.blocks=[1,"}),
              HasSubstr("test.yaml (--set): moe.blocks: expected"));
  EXPECT_THAT(refusal("model:\n  dim: 4\n  heads: [3\n"),
              HasSubstr("test.yaml:4:1: YAML syntax error"));
}

TEST(ConfigRefusal, MissingOrUnreadableFile) {
  EXPECT_EQ(thrown_message([] { load_config("/no/such/moevit.yaml", {}); }),
            "/no/such/moevit.yaml: cannot read the config: No such file or directory");
  EXPECT_THAT(thrown_message([] { load_config(MOEVIT_SOURCE_DIR "/configs", {}); }),
              HasSubstr("/configs: cannot read the config: it is a folder"));
}

TEST(ConfigRefusal, KeysSetTwiceOrCompetingPlacementRules) {
  EXPECT_EQ(refusal("optim:\n  lr: 1\n  lr: 2\n"),
            "test.yaml:3: optim.lr: set twice (also at test.yaml:2)");
  EXPECT_EQ(refusal("moe:\n  every: 2\n  last: 2\n"),
            "test.yaml:3: moe.last: expected one of moe.every, moe.last, moe.blocks, got "
            "moe.every too");
  EXPECT_THAT(set_refusal({"moe.blocks=[1]", "moe.every=2"}),
              HasSubstr("test.yaml (--set): moe.every: expected one of moe.every"));
}

TEST(ConfigRefusal, ModelAndMoeChecksArePrefixedWithTheSource) {
  EXPECT_THAT(set_refusal({"moe.num_experts=4", "moe.k=5"}),
              HasSubstr("test.yaml: moe.k: expected"));
  EXPECT_THAT(
      set_refusal({"model.image_size=30"}),
      HasSubstr("test.yaml: model.image_size: expected a multiple of model.patch_size (4)"));
  EXPECT_THAT(set_refusal({"moe.capacity_factor=-1"}),
              HasSubstr("test.yaml: moe.capacity_factor: expected a number > 0, got -1"));
  EXPECT_THAT(set_refusal({"moe.eval_capacity_factor=-1"}), HasSubstr("moe.eval_capacity_factor"));
  EXPECT_THAT(set_refusal({"model.heads=5"}), HasSubstr("test.yaml: model.heads"));
  EXPECT_EQ(set_refusal({"model.stem=conv", "model.image_size=24", "model.patch_size=6"}),
            "test.yaml: model.patch_size: expected a power of two with model.stem: conv, got 6");
  EXPECT_EQ(set_refusal({"model.attention=lsa", "model.image_size=4", "model.patch_size=4"}),
            "test.yaml: model.attention: expected standard when the image is a single token, got "
            "lsa");
}

TEST(ConfigRefusal, NewRoutingKeysNameTheKeyExpectedAndGot) {
  EXPECT_EQ(set_refusal({"moe.top_p=1.5"}),
            "test.yaml: moe.top_p: expected 0 (off) or a number in (0, 1], got 1.5");
  EXPECT_THAT(set_refusal({"moe.router=soft", "moe.top_p=0.5"}),
              HasSubstr("test.yaml: moe.top_p: expected 0 unless moe.router is topk or priority"));
  EXPECT_THAT(set_refusal({"moe.router=expert_choice", "moe.balance=bias"}),
              HasSubstr("test.yaml: moe.balance: expected loss unless moe.router is topk or "
                        "priority"));
  EXPECT_THAT(set_refusal({"moe.router=soft", "moe.gate=sigmoid"}),
              HasSubstr("test.yaml: moe.gate: expected softmax with moe.router: soft"));
  EXPECT_EQ(set_refusal({"moe.shared_experts=-1"}),
            "test.yaml: moe.shared_experts: expected an integer >= 0, got -1");
  EXPECT_EQ(set_refusal({"moe.bias_rate=-0.1"}),
            "test.yaml: moe.bias_rate: expected a number >= 0, got -0.1");
  EXPECT_THAT(set_refusal({"moe.gate=tanh"}), HasSubstr("expected one of softmax|sigmoid"));
  EXPECT_THAT(set_refusal({"moe.router=experts_choice"}),
              HasSubstr("expected one of dense|none|topk|priority|soft|expert_choice"));
}

TEST(ConfigRefusal, RangesNameTheKeyExpectedAndGot) {
  EXPECT_EQ(set_refusal({"model.channels=3", "data.mean=[0.5, 0.5]"}),
            "test.yaml: data.mean: expected 1 or model.channels (3) values, got 2 values");
  EXPECT_EQ(set_refusal({"data.val_split=1"}),
            "test.yaml: data.val_split: expected a number in [0, 1), got 1");
  EXPECT_EQ(set_refusal({"optim.batch_size=0"}),
            "test.yaml: optim.batch_size: expected an integer >= 1, got 0");
  EXPECT_EQ(set_refusal({"optim.lr=0"}), "test.yaml: optim.lr: expected a number > 0, got 0");
  EXPECT_EQ(set_refusal({"run.output_dir="}),
            "test.yaml: run.output_dir: expected a folder name, got ''");
  const std::pair<Overrides, const char*> cases[] = {
      // {overrides, part of the message}
      {{"data.std=[0.5, 0.5]"}, "data.std: expected 1 or model.channels (1) values, got 2"},
      {{"data.val_split=-0.1"}, "data.val_split: expected a number in [0, 1), got -0.1"},
      {{"data.std=[0]"}, "data.std: expected a number > 0, got 0"},
      {{"data.hflip=1.5"}, "data.hflip: expected a number in [0, 1], got 1.5"},
      {{"data.random_erasing=-0.5"}, "data.random_erasing: expected a number in [0, 1], got -0.5"},
      {{"data.crop_fraction=0"}, "data.crop_fraction: expected a number in (0, 1], got 0"},
      {{"data.scale_min=0.9", "data.scale_max=0.5"}, "data.scale_max: expected a number in"},
      {{"data.crop_padding=-1"}, "data.crop_padding: expected an integer >= 0, got -1"},
      {{"data.randaugment_n=-1"}, "data.randaugment_n: expected an integer >= 0, got -1"},
      {{"data.randaugment_m=31"}, "data.randaugment_m: expected an integer in [0, 30], got 31"},
      {{"data.color_jitter=-0.4"}, "data.color_jitter: expected a number in [0, inf), got -0.4"},
      {{"data.mixup=-0.2"}, "data.mixup: expected a number in [0, inf) (0 = off), got -0.2"},
      {{"data.cutmix=-1"}, "data.cutmix: expected a number in [0, inf) (0 = off), got -1"},
      {{"data.mixup_prob=1.5"}, "data.mixup_prob: expected a number in [0, 1], got 1.5"},
      {{"data.mixup_switch_prob=-0.1"}, "data.mixup_switch_prob: expected a number in [0, 1]"},
      {{"data.workers=-1"}, "data.workers: expected an integer >= 0, got -1"},
      {{"optim.lr=-1e-3"}, "optim.lr: expected a number > 0, got -0.001"},
      {{"optim.min_lr=1"}, "optim.min_lr: expected a number in [0, optim.lr], got 1"},
      {{"optim.beta2=1"}, "optim.beta2: expected a number in [0, 1), got 1"},
      {{"model.drop_path=1"}, "model.drop_path: expected a number in [0, 1), got 1"},
      {{"moe.gate_scale=0"}, "moe.gate_scale: expected a number > 0, got 0"},
      {{"moe.expert_mlp_dim=-1"},
       "moe.expert_mlp_dim: expected an integer >= 0 (0 = model.mlp_dim), got -1"},
      {{"moe.router=soft", "moe.gate_scale=8"},
       "moe.gate_scale: expected 1 with moe.router: soft (it scales token-choice gates), got 8"},
      {{"optim.warmup_steps=10", "optim.warmup_epochs=1"},
       "optim.warmup_steps: expected 0 when optim.warmup_epochs is set (1), got 10"},
      {{"optim.epochs=0"}, "optim.epochs: expected an integer >= 1, got 0"},
      {{"optim.label_smoothing=1"}, "optim.label_smoothing: expected a number in [0, 1), got 1"},
      {{"optim.grad_clip=-1"}, "optim.grad_clip: expected a number in [0, inf) (0 = off)"},
      {{"optim.ema_decay=1"},
       "optim.ema_decay: expected a number in [0, 1) (0 = no moving average), got 1"},
      {{"optim.skip_nonfinite=-1"}, "optim.skip_nonfinite: expected an integer >= 0, got -1"},
      {{"run.log_every=0"}, "run.log_every: expected an integer >= 1, got 0"},
      {{"optim.accum_steps=0"}, "optim.accum_steps: expected an integer >= 1, got 0"},
      {{"optim.batch_size=10", "optim.accum_steps=4"},
       "optim.batch_size: expected a multiple of optim.accum_steps (4), got 10"},
      {{"moe.balance_scope=global"}, "moe.balance_scope: expected micro unless a token-choice"},
  };
  for (const auto& [overrides, message] : cases)
    EXPECT_THAT(set_refusal(overrides), HasSubstr(message)) << overrides[0];
  // The edges that are allowed.
  EXPECT_NO_THROW(parse_config("", "x", {"model.channels=3", "data.mean=[0.5]"}));  // broadcast
  EXPECT_NO_THROW(parse_config("", "x", {"data.val_split=0"}));
  EXPECT_NO_THROW(parse_config("", "x", {"optim.epochs=0", "optim.steps=100"}));
}

TEST(ConfigRefusal, DataRootIsRequiredOnlyWhenAsked) {
  Config config = parse_config("", "x.yaml", {});
  EXPECT_EQ(thrown_message([&] { require_data_root(config); }),
            "x.yaml: data.root: expected a folder of class folders (or train/ and val/), got ''");
  config.data.root = "/no/such/folder";
  EXPECT_EQ(thrown_message([&] { require_data_root(config); }),
            "x.yaml: data.root: expected a folder of class folders (or train/ and val/), got "
            "'/no/such/folder' (no such folder)");
  config.data.root = MOEVIT_SOURCE_DIR;
  EXPECT_NO_THROW(require_data_root(config));
}

}  // namespace
}  // namespace moevit
