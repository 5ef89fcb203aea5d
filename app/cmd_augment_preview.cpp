// moevit augment-preview --config F [--set k=v]... [--out grid.png] [--images 6] [--draws 7]
#include <cstdio>
#include <stdexcept>
#include <string>

#include "app/cli_options.h"
#include "app/commands.h"
#include "app/figures/augment_grid.h"
#include "app/figures/canvas.h"
#include "app/run/config.h"
#include "app/run/data_setup.h"

namespace moevit {

namespace {

// "crop pad 2 · flip 0.5 · randaugment n2 m9 · jitter 0.4 · erasing 0.25": the training
// augmentations the config turns on.
std::string augmentation_summary(const DataConfig& data) {
  std::string summary = data.random_resized_crop ? "random-resized crop"
                        : data.crop_padding > 0  ? "crop pad " + std::to_string(data.crop_padding)
                                                 : "no crop";
  const auto add = [&](bool on, const std::string& part) {
    if (on) summary += " / " + part;
  };
  char number[32];
  std::snprintf(number, sizeof number, "%g", data.hflip);
  add(data.hflip > 0, std::string("flip ") + number);
  add(data.auto_augment == AutoAugmentKind::kRandAugment,
      "randaugment n" + std::to_string(data.randaugment_n) + " m" +
          std::to_string(data.randaugment_m));
  add(data.auto_augment == AutoAugmentKind::kTrivialAugment, "trivialaugment");
  std::snprintf(number, sizeof number, "%g", data.color_jitter);
  add(data.color_jitter > 0, std::string("jitter ") + number);
  std::snprintf(number, sizeof number, "%g", data.random_erasing);
  add(data.random_erasing > 0, std::string("erasing ") + number);
  return summary;
}

}  // namespace

int run_augment_preview(const CommandArgs& args) {
  cxxopts::Options parser(
      "moevit augment-preview",
      "Draw training images as the model sees them: each row one image, first as evaluation "
      "shows it, then the training augmentations of the config over successive epochs.");
  add_run_options(parser);
  parser.add_options()("out", "the PNG to write",
                       cxxopts::value<std::string>()->default_value("augment_preview.png"))(
      "images", "rows: images from the first training batch",
      cxxopts::value<int64_t>()->default_value("6"))("draws",
                                                     "training views per image (epochs 1, 2, ...)",
                                                     cxxopts::value<int64_t>()->default_value("7"));
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("config"))
    throw std::invalid_argument(
        "augment-preview: --config FILE is required (e.g. configs/fmnist-topk.yaml)");
  const Config config = load_config(options["config"].as<std::string>(), run_overrides(options));
  require_data_root(config);
  AugmentGridOptions grid;
  grid.images = options["images"].as<int64_t>();
  grid.draws = options["draws"].as<int64_t>();
  if (grid.images < 1 || grid.draws < 1)
    throw std::invalid_argument("augment-preview: --images and --draws: expected integers >= 1");
  grid.seed = static_cast<uint64_t>(config.run.seed);
  grid.max_pixels = config.data.max_pixels;

  const TrainValFolders folders =
      resolve_train_val(config.data.root, config.data.val_split, grid.seed);
  const std::vector<int64_t> indices = preview_sample_indices(folders.train, grid);
  const std::string title = "column 1: evaluation; then " + std::to_string(grid.draws) +
                            " training epochs: " + augmentation_summary(config.data);
  const std::string out = options["out"].as<std::string>();
  write_png(out, augment_grid(folders.train, indices, transform_options(config), grid, title));
  std::printf("augment-preview: wrote %s (%zu images x %lld training views)\n", out.c_str(),
              indices.size(), static_cast<long long>(grid.draws));
  return 0;
}

}  // namespace moevit
