// moevit eval --checkpoint CKPT [--data DIR] [--set moe.eval_capacity_factor=X] [--json]
//             [--sweep capacity=0,0.25,0.5,1,1.25,2 [--sweep-out PREFIX]]
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "app/cli_options.h"
#include "app/command_model.h"
#include "app/commands.h"
#include "app/eval/capacity_sweep.h"
#include "app/eval/evaluation.h"
#include "app/eval/metrics_log.h"
#include "app/figures/sweep_figure.h"
#include "app/run/atomic_write.h"
#include "app/run/checkpoint.h"
#include "app/run/data_setup.h"
#include "app/run/runtime.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"

namespace moevit {

namespace {

void write_confusion_csv(const std::string& path, const torch::Tensor& confusion,
                         const std::vector<std::string>& class_names) {
  std::ostringstream csv;
  csv << "true\\predicted";
  for (const std::string& name : class_names) csv << ',' << name;
  csv << '\n';
  for (size_t row = 0; row < class_names.size(); ++row) {
    csv << class_names[row];
    for (size_t column = 0; column < class_names.size(); ++column)
      csv << ',' << confusion[row][column].item<int64_t>();
    csv << '\n';
  }
  write_text_file(path, csv.str());
}

// The sweep: a table (or its JSON), PREFIX.json and PREFIX.png.
int report_sweep(const std::vector<SweepPoint>& points, const std::string& prefix,
                 const std::string& title, bool as_json) {
  nlohmann::json summary = sweep_json(points);
  summary["checkpoint"] = title;
  write_text_file(prefix + ".json", summary.dump(2) + "\n");
  write_sweep_png(points, title, prefix + ".png");
  if (as_json) {
    std::printf("%s\n", summary.dump(2).c_str());
    return 0;
  }
  std::printf("%s: top-1 against the eval capacity factor (0 = routed experts cut)\n",
              title.c_str());
  std::printf("  %8s  %7s  %7s  %s\n", "capacity", "top-1", "top-5",
              "tokens that reached an expert (per MoE block)");
  for (const SweepPoint& point : points) {
    std::string blocks;
    for (const LayerRoutingStats& layer : point.result.routing) {
      char cell[32];
      std::snprintf(cell, sizeof cell, "%s%.1f%%", blocks.empty() ? "" : " / ",
                    100 * layer.stats.reached_fraction());
      blocks += cell;
    }
    std::printf("  %8g  %6.2f%%  %6.2f%%  %.1f%% (%s)\n", point.capacity_factor,
                100 * point.result.top1, 100 * point.result.top5, 100 * point.reached_fraction,
                blocks.c_str());
  }
  if (summary.contains("cut_cost_top1"))
    std::printf("  cutting the experts costs %.2f points of top-1\n",
                100 * summary["cut_cost_top1"].get<double>());
  std::printf("  written: %s.json, %s.png\n", prefix.c_str(), prefix.c_str());
  return 0;
}

}  // namespace

int run_eval(const CommandArgs& args) {
  cxxopts::Options parser =
      checkpoint_command_parser("moevit eval", "Evaluate a checkpoint on a folder of images.", "");
  parser.add_options()(
      "data",
      "folder of class folders, or a root with val/ (or with train/ and test/: test/ is evaluated) "
      "(default: the config's data.root)",
      cxxopts::value<std::string>())("json", "print one JSON summary instead of text")(
      "confusion", "confusion matrix CSV path (default: next to the checkpoint)",
      cxxopts::value<std::string>())(
      "sweep",
      "evaluate at each eval capacity factor, e.g. capacity=0,0.25,0.5,1,1.25,2 (0 = routed "
      "experts cut): a table, PREFIX.json and PREFIX.png",
      cxxopts::value<std::string>())(
      "sweep-out", "the sweep's PREFIX (default: sweep_capacity next to the checkpoint)",
      cxxopts::value<std::string>());
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  CommandModel model = load_command_model(options, "eval");
  LoadedModel& loaded = model.loaded;
  const Runtime& runtime = model.runtime;
  const std::string checkpoint = options["checkpoint"].as<std::string>();

  // Parsed before any work, so a bad list is refused at once.
  const std::vector<double> sweep_factors =
      options.count("sweep") ? parse_capacity_sweep(options["sweep"].as<std::string>())
                             : std::vector<double>{};
  const std::string data_root =
      held_out_folder(option_or(options, "data", loaded.config.data.root));
  const ImageFolder folder = scan_image_folder(data_root);
  if (folder.class_names != loaded.class_names)
    throw std::invalid_argument(data_root + ": its class folders differ from the " +
                                std::to_string(loaded.class_names.size()) +
                                " classes the checkpoint was trained on");
  const WarningSink warn = [](const std::string& line) {
    std::fprintf(stderr, "%s\n", line.c_str());
  };
  ImageLoader loader(folder, transform_options(loaded.config),
                     evaluation_loader_options(loaded.config), warn);
  const EvalOptions eval_options{loaded.config.data.eval_hflip};
  if (!sweep_factors.empty()) {
    const std::string prefix =
        option_or(options, "sweep-out",
                  (std::filesystem::path(checkpoint).parent_path() / "sweep_capacity").string());
    return report_sweep(sweep_capacity(*loaded.model, loader, runtime, eval_options, sweep_factors),
                        prefix, checkpoint, options.count("json") > 0);
  }
  const EvalResult result = evaluate(*loaded.model, loader, runtime, eval_options);

  const std::string confusion_path =
      option_or(options, "confusion",
                (std::filesystem::path(checkpoint).parent_path() / "confusion.csv").string());
  write_confusion_csv(confusion_path, result.confusion, loaded.class_names);
  const std::vector<double> per_class = result.per_class_accuracy();
  if (options.count("json")) {
    nlohmann::json summary = eval_json(result);
    summary["checkpoint"] = checkpoint;
    summary["data"] = data_root;
    summary["confusion_csv"] = confusion_path;
    summary["weights"] = loaded.averaged_weights ? "moving average" : "trained";
    summary["hflip_averaged"] = loaded.config.data.eval_hflip;
    summary["skipped"] = loader.summary().skipped.size();
    summary["warnings"] = result.routing_warnings();
    for (size_t label = 0; label < per_class.size(); ++label)
      summary["per_class_top1"][loaded.class_names[label]] = per_class[label];
    std::printf("%s\n", summary.dump(2).c_str());
    return 0;
  }
  std::printf("%s%s%s on %s: %lld images, %s\n", checkpoint.c_str(),
              loaded.averaged_weights ? " (moving-average weights)" : "",
              loaded.config.data.eval_hflip ? " (mirror-averaged)" : "", data_root.c_str(),
              (long long)result.images, runtime.description.c_str());
  std::printf("  top1 %.2f%%  top5 %.2f%%  loss %.4f  %.0f images/s\n", 100 * result.top1,
              100 * result.top5, result.loss, result.images_per_second());
  for (size_t label = 0; label < per_class.size(); ++label)
    std::printf("  %-20s %6.2f%%\n", loaded.class_names[label].c_str(), 100 * per_class[label]);
  for (const LayerRoutingStats& layer : result.routing) {
    const RoutingStats& stats = layer.stats;
    std::printf(
        "  block %lld: expert load share %.3f-%.3f (cv %.3f), dropped %.2f%% of assignments, "
        "mean top gate %.3f, mean combine weight per token %.3f\n",
        (long long)layer.block, stats.load_share_min(), stats.load_share_max(),
        stats.load_coefficient_of_variation(), 100 * stats.dropped_fraction, stats.mean_top_gate(),
        stats.mean_token_weight());
    std::printf("    %.1f%% of the tokens reached an expert", 100 * stats.reached_fraction());
    if (stats.tokens > 0)
      std::printf(", %.2f experts per token (tokens with 0 / 1 / 2+: %.1f / %.1f / %.1f%%)",
                  stats.mean_experts_per_token(),
                  100.0 * stats.tokens_by_expert_count[0] / stats.tokens,
                  100.0 * stats.tokens_by_expert_count[1] / stats.tokens,
                  100.0 * stats.tokens_by_expert_count[2] / stats.tokens);
    if (layer.block < static_cast<int64_t>(result.ffn_sizes.size()))
      std::printf("; MoE branch RMS %.3f per token (residual %.3f, dense FFN blocks %.3f)",
                  result.ffn_sizes[layer.block].branch_rms(),
                  result.ffn_sizes[layer.block].residual_rms(), result.dense_ffn_branch_rms());
    std::printf("\n");
  }
  for (const std::string& warning : result.routing_warnings())
    std::printf("  %s\n", warning.c_str());
  std::printf("  confusion matrix: %s\n", confusion_path.c_str());
  return 0;
}

}  // namespace moevit
