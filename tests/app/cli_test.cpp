// End-to-end through the moevit executable: what a user types.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>

#include "app/cli_options.h"
#include "app/eval/metrics_log.h"
#include "app/run/checkpoint.h"
#include "app/run/config.h"
#include "app/run/config_fields.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::run_command;
using testing::TempDir;

const std::string kMoevit = MOEVIT_BINARY;

// The JSON object a command printed (after any lines of text before it).
nlohmann::json printed_json(const testing::CommandResult& result) {
  return nlohmann::json::parse(result.output.substr(result.output.find('{')));
}

TEST(Cli, TrainThenEvalOnATinyFolder) {
  TempDir dir;
  testing::make_texture_folders(dir / "data");
  testing::write_text(dir / "tiny.yaml",
                      testing::tiny_config_yaml(dir / "data", dir / "run", "soft"));
  const auto trained = run_command(kMoevit + " train --config " + (dir / "tiny.yaml"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_NE(trained.output.find("epoch 1/1"), std::string::npos) << trained.output;
  for (const char* file : {"metrics.jsonl", "last.pt", "best.pt", "config.yaml"})
    EXPECT_TRUE(std::filesystem::exists(dir / "run/" + file)) << file;
  const std::vector<nlohmann::json> records = read_json_lines(dir / "run/metrics.jsonl");
  ASSERT_EQ(records.size(), 1u);
  EXPECT_GE(records[0]["val"]["top1"].get<double>(), 0.0);

  const auto evaluated =
      run_command(kMoevit + " eval --checkpoint " + (dir / "run/best.pt") + " --json");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const nlohmann::json summary = printed_json(evaluated);
  EXPECT_EQ(summary["images"], 12);  // 3 classes × 4 val images
  EXPECT_EQ(summary["per_class_top1"].size(), 3u);
  EXPECT_EQ(summary["routing"].size(), 1u);
  // Soft routing never concentrates: the warnings list is there and empty.
  ASSERT_TRUE(summary["warnings"].is_array()) << summary.dump();
  EXPECT_TRUE(summary["warnings"].empty());
  EXPECT_TRUE(std::filesystem::exists(summary["confusion_csv"].get<std::string>()));
  EXPECT_EQ(summary["weights"], "trained");  // the run kept no moving average
  EXPECT_EQ(summary["hflip_averaged"], false);

  // Mirror averaging reaches eval through --set: the same images, other logits.
  const auto mirrored = run_command(kMoevit + " eval --checkpoint " + (dir / "run/best.pt") +
                                    " --json --set data.eval_hflip=true");
  ASSERT_EQ(mirrored.exit_code, 0) << mirrored.output;
  const nlohmann::json mirrored_summary = printed_json(mirrored);
  EXPECT_EQ(mirrored_summary["hflip_averaged"], true);
  EXPECT_EQ(mirrored_summary["images"], 12);
  EXPECT_NE(mirrored_summary["loss"], summary["loss"]);
  const auto not_a_bool = run_command(kMoevit + " eval --checkpoint " + (dir / "run/best.pt") +
                                      " --set data.eval_hflip=maybe");
  EXPECT_NE(not_a_bool.exit_code, 0);
  EXPECT_NE(not_a_bool.output.find("data.eval_hflip"), std::string::npos) << not_a_bool.output;

  // --weights picks the weights explicitly; a value it does not know is refused in one line.
  const auto trained_weights = run_command(kMoevit + " eval --checkpoint " + (dir / "run/best.pt") +
                                           " --json --weights trained");
  ASSERT_EQ(trained_weights.exit_code, 0) << trained_weights.output;
  const nlohmann::json trained_summary = printed_json(trained_weights);
  EXPECT_EQ(trained_summary["weights"], "trained");
  EXPECT_EQ(trained_summary["loss"], summary["loss"]);  // the same weights as auto's
  const auto unknown =
      run_command(kMoevit + " eval --checkpoint " + (dir / "run/best.pt") + " --weights ema");
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("--weights: expected auto, average or trained, got 'ema'"),
            std::string::npos)
      << unknown.output;
}

TEST(Cli, EvalCapacityFactorOverrideChangesDropRate) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 8, 4);
  testing::write_text(dir / "tiny.yaml",
                      testing::tiny_config_yaml(dir / "data", dir / "run", "topk"));
  ASSERT_EQ(run_command(kMoevit + " train --config " + (dir / "tiny.yaml")).exit_code, 0);
  const auto block_at = [&](const std::string& factor) {
    const auto result = run_command(kMoevit + " eval --json --checkpoint " + (dir / "run/last.pt") +
                                    " --set moe.eval_capacity_factor=" + factor);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return printed_json(result)["routing"][0];
  };
  const nlohmann::json roomy = block_at("4.0"), tight = block_at("0.25");
  EXPECT_EQ(roomy["dropped_fraction"].get<double>(), 0.0);  // C = 16 = an image's tokens
  EXPECT_GT(tight["dropped_fraction"].get<double>(), 0.0);
  // k = 1 with nothing dropped: each token's combine weight is its top gate, in (1/E, 1].
  const double top_gate = roomy["mean_top_gate"].get<double>();
  EXPECT_GT(top_gate, 0.25);
  EXPECT_LE(top_gate, 1.0);
  EXPECT_NEAR(roomy["mean_token_weight"].get<double>(), top_gate, 1e-6);
  // Drops take weight away from tokens, never add it; the gates do not depend on capacity.
  EXPECT_LT(tight["mean_token_weight"].get<double>(), top_gate);
  EXPECT_NEAR(tight["mean_top_gate"].get<double>(), top_gate, 1e-6);
}

TEST(Cli, BadConfigIsRefusedInOneLineBeforeAnyWork) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 2, 1);
  testing::write_text(dir / "bad.yaml",
                      testing::tiny_config_yaml(dir / "data", dir / "run") + "extra:\n  key: 1\n");
  const auto result = run_command(kMoevit + " train --config " + (dir / "bad.yaml"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("bad.yaml"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("extra"), std::string::npos) << result.output;
  EXPECT_EQ(std::count(result.output.begin(), result.output.end(), '\n'), 1) << result.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));

  testing::write_text(dir / "good.yaml", testing::tiny_config_yaml(dir / "data", dir / "run"));
  const auto k_too_big =
      run_command(kMoevit + " train --config " + (dir / "good.yaml") + " --set moe.k=9");
  EXPECT_EQ(k_too_big.exit_code, 1);
  EXPECT_NE(k_too_big.output.find("moe.k"), std::string::npos) << k_too_big.output;
  const auto no_root = run_command(kMoevit + " train --config " + (dir / "good.yaml") +
                                   " --set data.root=" + (dir / "missing"));
  EXPECT_EQ(no_root.exit_code, 1);
  EXPECT_NE(no_root.output.find("data.root"), std::string::npos) << no_root.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "run"));
}

TEST(Cli, BenchRunsInBothPrecisions) {
  for (const std::string precision : {"fp32", "bf16"}) {
    const auto result = run_command(kMoevit +
                                    " bench --config " MOEVIT_SOURCE_DIR
                                    "/configs/fmnist-topk.yaml --steps 2 --warmup 1 --batch 8 "
                                    "--json --set run.precision=" +
                                    precision);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const nlohmann::json summary = printed_json(result);
    EXPECT_GT(summary["train_img_s"].get<double>(), 0.0);
    EXPECT_GT(summary["infer_img_s"].get<double>(), 0.0);
    EXPECT_GT(summary["gemm_peak_fp32_gflop_s"].get<double>(), 0.0);
    EXPECT_GT(summary["forward_gflop_per_image"].get<double>(), 0.0);
    EXPECT_GT(summary["infer_with_routing_img_s"].get<double>(), 0.0);
    for (const std::string part :
         {"attention", "dense_ffn", "router", "dispatch", "experts", "combine", "moe_layer"})
      EXPECT_GT(summary["parts_ms"][part].get<double>(), 0.0) << part;
    // bf16 runs where the CPU has it, and says fp32 where it fell back.
    EXPECT_TRUE(summary["precision"] == precision || summary["precision"] == "fp32");
  }
}

TEST(Cli, BenchComparesTheMoeLayerWithDenseForEachExpertCount) {
  const std::string bench = kMoevit + " bench --steps 1 --warmup 0 --batch 4 --json --config ";
  const auto result =
      run_command(bench + MOEVIT_SOURCE_DIR "/configs/fmnist-soft.yaml --experts 2,16");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json summary = printed_json(result);
  EXPECT_EQ(summary["moe_over_dense_ffn_by_experts"].size(), 2u);
  EXPECT_GT(summary["moe_over_dense_ffn_by_experts"]["16"].get<double>(), 0.0);
  // A dense config has no MoE layer to compare: refused, naming the key.
  const auto dense =
      run_command(bench + MOEVIT_SOURCE_DIR "/configs/fmnist-dense.yaml --experts 8");
  EXPECT_EQ(dense.exit_code, 1);
  EXPECT_NE(dense.output.find("moe.router"), std::string::npos) << dense.output;
  // A list that is not of counts: refused in one line, before any timing.
  const auto bad = run_command(bench + MOEVIT_SOURCE_DIR "/configs/fmnist-soft.yaml --experts 2,x");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.output.find("--experts: expected expert counts >= 1 separated by commas"),
            std::string::npos)
      << bad.output;
}

TEST(Cli, BenchTimesTheLoaderAloneAndFeedingTheModel) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 8, 2);
  testing::write_text(dir / "tiny.yaml", testing::tiny_config_yaml(dir / "data", dir / "run"));
  const std::string bench = kMoevit + " bench --steps 2 --warmup 1 --batch 4 --config " +
                            (dir / "tiny.yaml") + " --set data.auto_augment=randaugment";
  const auto result = run_command(bench + " --json --loader " + (dir / "data"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json summary = printed_json(result);
  EXPECT_GT(summary["loader_img_s"].get<double>(), 0.0);
  EXPECT_GT(summary["train_with_loader_img_s"].get<double>(), 0.0);
  EXPECT_GE(summary["loader_workers"].get<int64_t>(), 1);
  const auto text = run_command(bench + " --loader " + (dir / "data"));
  EXPECT_NE(text.output.find("training fed by it"), std::string::npos) << text.output;
  const auto missing = run_command(bench + " --loader " + (dir / "nowhere"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find(dir / "nowhere"), std::string::npos) << missing.output;
}

// cxxopts used to split every --set at its commas: moe.blocks=[1,3] became "moe.blocks=[1" and
// "3]", and the example in configs/vit-s16-soft.yaml was refused.
TEST(Cli, SetKeepsAListValueWhole) {
  cxxopts::Options parser("moevit test", "");
  add_run_options(parser);
  parser.add_options()("paths", "", cxxopts::value<std::vector<std::string>>());
  parser.parse_positional({"paths"});
  const cxxopts::ParseResult options = parse_command_line(
      parser, {"--set", "moe.blocks=[1,3]", "--set", "moe.k=2", "a,b.png", "c.png"});
  EXPECT_EQ(run_overrides(options), (std::vector<std::string>{"moe.blocks=[1,3]", "moe.k=2"}));
  EXPECT_EQ(options["paths"].as<std::vector<std::string>>(),
            (std::vector<std::string>{"a,b.png", "c.png"}));
  EXPECT_EQ(comma_list("4,8,16"), (std::vector<std::string>{"4", "8", "16"}));
  EXPECT_TRUE(comma_list("").empty());
}

// Every list key takes a whole YAML flow list through the command line, e.g. switching a
// grayscale config to RGB with --set 'data.mean=[0.485,0.456,0.406]'.
TEST(Cli, EveryListKeyTakesAFlowListThroughSet) {
  int list_keys = 0;
  for (const ConfigField& row : config_fields()) {
    if (row.expected.rfind("a non-empty list", 0) != 0) continue;
    ++list_keys;
    const bool block_ids = row.expected.find("block ids") != std::string::npos;
    const std::string value = block_ids ? "[0,2, 3]" : "[0.485,0.456, 0.406]";
    cxxopts::Options parser("moevit test", "");
    add_run_options(parser);
    const cxxopts::ParseResult options =
        parse_command_line(parser, {"--set", row.key + "=" + value, "--set", "model.channels=3"});
    const Config config = parse_config("", "x.yaml", run_overrides(options));
    EXPECT_EQ(row.get(config), block_ids ? "[0, 2, 3]" : "[0.485, 0.456, 0.406]") << row.key;
  }
  EXPECT_EQ(list_keys, 3);  // data.mean, data.std, moe.blocks
}

TEST(Cli, BenchWritesAProfilerTraceThatParses) {
  TempDir dir;
  const auto result =
      run_command(kMoevit + " bench --steps 1 --warmup 0 --batch 2 --config " +
                  MOEVIT_SOURCE_DIR "/configs/fmnist-topk.yaml --profile " + (dir / "trace.json"));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream trace(dir / "trace.json");
  const nlohmann::json events = nlohmann::json::parse(trace);
  ASSERT_TRUE(events.is_array());
  bool has_matrix_product = false;
  for (const nlohmann::json& event : events)
    has_matrix_product |= event.value("name", "").find("mm") != std::string::npos;
  EXPECT_TRUE(has_matrix_product) << "no matrix product among " << events.size() << " events";
}

// The routers and gates of DeepSeek-MoE, Expert Choice and top-p, each through train, eval
// --sweep, classify and heatmap.
TEST(Cli, EveryNewRoutingModeTrainsSweepsClassifiesAndDrawsHeatmaps) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  const std::vector<std::pair<std::string, std::string>> modes = {
      {"expert_choice", " --set moe.gate=sigmoid --set moe.capacity_factor=1.0"},
      {"topk",
       " --set moe.gate=sigmoid --set moe.balance=bias --set moe.k=2 --set moe.shared_experts=1"},
      {"topk", " --set moe.k=3 --set moe.top_p=0.5"}};
  int index = 0;
  for (const auto& [router, overrides] : modes) {
    const std::string run = dir / ("run" + std::to_string(index++));
    testing::write_text(run + ".yaml", testing::tiny_config_yaml(dir / "data", run, router));
    const auto trained = run_command(kMoevit + " train --config " + run + ".yaml" + overrides);
    ASSERT_EQ(trained.exit_code, 0) << overrides << "\n" << trained.output;
    const auto swept = run_command(kMoevit + " eval --checkpoint " + run +
                                   "/last.pt --json --sweep capacity=0,1,4");
    ASSERT_EQ(swept.exit_code, 0) << overrides << "\n" << swept.output;
    const nlohmann::json sweep = printed_json(swept);
    ASSERT_EQ(sweep["points"].size(), 3u) << sweep.dump();
    EXPECT_EQ(sweep["points"][0]["capacity_factor"], 0.0);
    EXPECT_EQ(sweep["points"][0]["reached_fraction"], 0.0);  // the experts are cut
    EXPECT_GT(sweep["points"][2]["reached_fraction"].get<double>(), 0.0);
    EXPECT_TRUE(sweep.contains("cut_cost_top1"));
    EXPECT_TRUE(std::filesystem::exists(run + "/sweep_capacity.json"));
    EXPECT_FALSE(cv::imread(run + "/sweep_capacity.png").empty());
    const auto classified = run_command(kMoevit + " classify --checkpoint " + run + "/last.pt " +
                                        (dir / "data/val/checker/0.png"));
    EXPECT_EQ(classified.exit_code, 0) << overrides << "\n" << classified.output;
    const auto drawn = run_command(kMoevit + " heatmap --checkpoint " + run + "/last.pt " +
                                   (dir / "data/val/checker/0.png") + " --out " + run + "/maps");
    EXPECT_EQ(drawn.exit_code, 0) << overrides << "\n" << drawn.output;
    EXPECT_FALSE(cv::imread(run + "/maps/0_block1.png").empty()) << overrides;
  }
}

TEST(Cli, SweepRefusesABadListBeforeAnyWork) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 2, 1);
  testing::write_text(dir / "tiny.yaml", testing::tiny_config_yaml(dir / "data", dir / "run"));
  ASSERT_EQ(run_command(kMoevit + " train --config " + (dir / "tiny.yaml")).exit_code, 0);
  for (const std::string bad : {"capacity=1,-0.5", "capacity=", "factor=1", "capacity=1,x"}) {
    const auto result =
        run_command(kMoevit + " eval --checkpoint " + (dir / "run/last.pt") + " --sweep " + bad);
    EXPECT_EQ(result.exit_code, 1) << bad;
    EXPECT_NE(result.output.find("--sweep: expected capacity=F,F,..."), std::string::npos)
        << result.output;
    EXPECT_FALSE(std::filesystem::exists(dir / "run/sweep_capacity.json"));
  }
}

// A dense class-token run out to timm's layout and back in: eval scores the imported checkpoint
// exactly as the run's own, classify names its classes; a missing --out is refused in one line.
TEST(Cli, ExportThenImportEvaluatesTheSame) {
  TempDir dir;
  testing::make_texture_folders(dir / "data", 6, 2);
  testing::write_text(dir / "tiny.yaml",
                      testing::tiny_config_yaml(dir / "data", dir / "run", "dense"));
  const auto trained = run_command(kMoevit + " train --config " + (dir / "tiny.yaml") +
                                   " --set model.pooling=token");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;

  const auto exported = run_command(kMoevit + " export --checkpoint " + (dir / "run/last.pt") +
                                    " --out " + (dir / "model.safetensors"));
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("tensors in timm's ViT layout (dim 16, depth 2, heads 2, patch 2, "
                                 "image 8, 3 classes; the trained weights)"),
            std::string::npos)
      << exported.output;
  const auto imported = run_command(kMoevit + " import " + (dir / "model.safetensors") + " --out " +
                                    (dir / "imported.pt"));
  ASSERT_EQ(imported.exit_code, 0) << imported.output;
  EXPECT_NE(imported.output.find("class names from metadata"), std::string::npos)
      << imported.output;

  nlohmann::json summaries[2];
  const std::string checkpoints[2] = {dir / "run/last.pt", dir / "imported.pt"};
  // The same threads and batches for both (the imported config has moevit's defaults for
  // optim and run): the same sums, bit for bit.
  for (int index = 0; index < 2; ++index) {
    const auto evaluated = run_command(
        kMoevit + " eval --checkpoint " + checkpoints[index] +
        " --json --threads 1 --device cpu --set optim.batch_size=8 --set data.workers=1 --data " +
        (dir / "data"));
    ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
    summaries[index] = printed_json(evaluated);
  }
  EXPECT_EQ(summaries[1]["images"], 6);
  EXPECT_EQ(summaries[1]["loss"], summaries[0]["loss"]);
  EXPECT_EQ(summaries[1]["top1"], summaries[0]["top1"]);
  const auto classified = run_command(kMoevit + " classify --checkpoint " + (dir / "imported.pt") +
                                      " " + (dir / "data/val/checker/0.png"));
  EXPECT_EQ(classified.exit_code, 0) << classified.output;
  EXPECT_NE(classified.output.find("horizontal"), std::string::npos) << classified.output;

  const auto no_out = run_command(kMoevit + " import " + (dir / "model.safetensors"));
  EXPECT_EQ(no_out.exit_code, 1);
  EXPECT_NE(no_out.output.find("import: --out FILE is required"), std::string::npos)
      << no_out.output;
  const auto gap = run_command(kMoevit + " import " + (dir / "model.safetensors") + " --out " +
                               (dir / "gap.pt") + " --set model.pooling=gap");
  EXPECT_EQ(gap.exit_code, 1);
  EXPECT_NE(gap.output.find("model.pooling: expected token"), std::string::npos) << gap.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "gap.pt"));

  // The dense run upcycled into the config's MoE (block 1 of 2), from the run's checkpoint and
  // from the exported file; the source recorded in the checkpoints and metrics.jsonl.
  for (const std::string source : {"run/last.pt", "model.safetensors"}) {
    const std::string out = dir / (source == "run/last.pt" ? "from_checkpoint" : "from_timm");
    const auto upcycled = run_command(kMoevit + " train --config " + (dir / "tiny.yaml") +
                                      " --set moe.router=topk --set model.pooling=token --init " +
                                      (dir / source) + " --out " + out);
    ASSERT_EQ(upcycled.exit_code, 0) << upcycled.output;
    EXPECT_NE(upcycled.output.find("initialised from " + (dir / source)), std::string::npos)
        << upcycled.output;
    EXPECT_NE(upcycled.output.find("init: blocks 1 upcycled: 4 experts each a copy of the block's "
                                   "dense FFN (width 32); routers fresh"),
              std::string::npos)
        << upcycled.output;
    EXPECT_EQ(read_checkpoint_state(out + "/last.pt").initialized_from, dir / source);
    const std::vector<nlohmann::json> records = read_json_lines(out + "/metrics.jsonl");
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0]["initialized_from"], dir / source);
  }
  const auto both = run_command(kMoevit + " train --config " + (dir / "tiny.yaml") + " --init " +
                                (dir / "run/last.pt") + " --resume " + (dir / "run"));
  EXPECT_EQ(both.exit_code, 1);
  EXPECT_NE(both.output.find("train: --init starts a new run from weights, --resume continues one"),
            std::string::npos)
      << both.output;
}

TEST(Cli, UnknownCommandSuggestsTheClosest) {
  const auto result = run_command(kMoevit + " trian");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.output.find("did you mean 'train'?"), std::string::npos) << result.output;
}

TEST(Cli, InfoPrintsEveryShippedConfig) {
  for (const auto& entry : std::filesystem::directory_iterator(MOEVIT_SOURCE_DIR "/configs")) {
    const auto result = run_command(kMoevit + " info --config " + entry.path().string());
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("active per token"), std::string::npos) << result.output;
  }
}

}  // namespace
}  // namespace moevit
