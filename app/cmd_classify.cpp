// moevit classify --checkpoint CKPT PATH... [--top 5] [--batch 32] [--json] [--device D]
#include <cstdio>
#include <stdexcept>

#include "app/cli_options.h"
#include "app/command_model.h"
#include "app/commands.h"
#include "app/eval/classification.h"
#include "app/run/image_files.h"

namespace moevit {

namespace {

void print_text(const std::vector<ImageClassification>& images) {
  for (size_t index = 0; index < images.size(); ++index) {
    std::printf("%s%s\n", index > 0 ? "\n" : "", images[index].path.c_str());
    for (const Prediction& prediction : images[index].top)
      std::printf("  %.4f  %s\n", prediction.probability, prediction.label.c_str());
  }
}

}  // namespace

int run_classify(const CommandArgs& args) {
  cxxopts::Options parser = checkpoint_command_parser(
      "moevit classify", "Classify image files, or every image in folders (recursively).",
      "PATH...");
  parser.add_options()("top", "classes to show per image",
                       cxxopts::value<int64_t>()->default_value("5"))(
      "batch", "images per forward pass", cxxopts::value<int64_t>()->default_value("32"))(
      "json", "print one JSON array instead of text")("paths", "image files or folders",
                                                      cxxopts::value<std::vector<std::string>>());
  parser.parse_positional({"paths"});
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("paths"))
    throw std::invalid_argument("classify: name at least one image file or folder");
  const std::vector<std::string> paths =
      list_image_files(options["paths"].as<std::vector<std::string>>());

  CommandModel model = load_command_model(options, "classify");
  const ClassificationResult result = classify_files(
      *model.loaded.model, model.loaded.class_names, model.loaded.config, model.runtime, paths,
      options["top"].as<int64_t>(), options["batch"].as<int64_t>());
  if (options.count("json"))
    std::printf("%s\n", classification_json(result.images).dump(2).c_str());
  else
    print_text(result.images);
  for (const SkippedImage& unreadable : result.unreadable)
    std::fprintf(stderr, "moevit classify: error: %s: %s\n", unreadable.path.c_str(),
                 unreadable.reason.c_str());
  return result.unreadable.empty() ? 0 : 1;
}

}  // namespace moevit
