// moevit heatmap --checkpoint CKPT IMAGE... --out DIR [--layers all|i,j] [--dataset DIR]
#include <cstdio>
#include <stdexcept>

#include "app/cli_options.h"
#include "app/command_model.h"
#include "app/commands.h"
#include "app/figures/heatmap_writer.h"
#include "app/run/image_files.h"

namespace moevit {

namespace {

void print_paths(const std::vector<std::string>& paths) {
  for (const std::string& path : paths) std::printf("%s\n", path.c_str());
}

}  // namespace

int run_heatmap(const CommandArgs& args) {
  cxxopts::Options parser = checkpoint_command_parser(
      "moevit heatmap", "Draw which expert each patch went to, per image and MoE layer.",
      "IMAGE...");
  parser.add_options()("out", "output folder for the PNGs (and CSVs)",
                       cxxopts::value<std::string>())(
      "layers", "MoE layers to draw: all, or block ids such as 1,3",
      cxxopts::value<std::string>()->default_value("all"))(
      "dataset", "also: expert-by-class matrices over this folder of class folders (or its val/)",
      cxxopts::value<std::string>())("batch", "images routed together",
                                     cxxopts::value<int64_t>()->default_value("16"))(
      "images", "image files or folders", cxxopts::value<std::vector<std::string>>());
  parser.parse_positional({"images"});
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("out"))
    throw std::invalid_argument("heatmap: --out DIR is required (e.g. --out heatmaps)");
  if (!options.count("images") && !options.count("dataset"))
    throw std::invalid_argument("heatmap: name at least one image, or --dataset DIR");
  const int64_t batch_size = options["batch"].as<int64_t>();
  if (batch_size < 1)
    throw std::invalid_argument("heatmap: --batch: expected a number >= 1, got " +
                                std::to_string(batch_size));
  const std::vector<std::string> images =
      options.count("images") ? list_image_files(options["images"].as<std::vector<std::string>>())
                              : std::vector<std::string>{};

  CommandModel model = load_command_model(options, "heatmap");
  VisionTransformerImpl& network = *model.loaded.model;
  const std::vector<size_t> layers =
      select_moe_layers(network, options["layers"].as<std::string>());
  const std::string out_dir = options["out"].as<std::string>();
  const HeatmapFiles heatmaps =
      write_image_heatmaps(network, model.loaded.class_names, model.loaded.config, model.runtime,
                           images, layers, out_dir, batch_size);
  print_paths(heatmaps.written);
  for (const SkippedImage& unreadable : heatmaps.unreadable)
    std::fprintf(stderr, "moevit heatmap: error: %s: %s\n", unreadable.path.c_str(),
                 unreadable.reason.c_str());
  if (options.count("dataset")) {
    const WarningSink warn = [](const std::string& line) {
      std::fprintf(stderr, "%s\n", line.c_str());
    };
    print_paths(write_expert_by_class(network, model.loaded.config, model.runtime,
                                      options["dataset"].as<std::string>(), layers, out_dir, warn)
                    .written);
  }
  return heatmaps.unreadable.empty() ? 0 : 1;
}

}  // namespace moevit
