// moevit import FILE --out CKPT [--heads N] [--classes FILE] [--set data.mean=[...] ...]
#include <cstdio>
#include <stdexcept>
#include <string>

#include "app/cli_options.h"
#include "app/commands.h"
#include "app/pretrained/timm_checkpoint.h"

namespace moevit {

int run_import(const CommandArgs& args) {
  cxxopts::Options parser(
      "moevit import",
      "Turn a timm ViT safetensors file (e.g. a Hugging Face Hub timm/vit_* model.safetensors) "
      "into a moevit checkpoint for classify, eval and heatmap.");
  parser.positional_help("FILE");
  parser.add_options()("file", "the safetensors file", cxxopts::value<std::string>())(
      "out", "the checkpoint to write, e.g. runs/vit/best.pt", cxxopts::value<std::string>())(
      "heads", "attention heads (no tensor's shape holds them); default: the file's metadata",
      cxxopts::value<int64_t>())(
      "classes",
      "a file of class names, one per line; default: the file's metadata, else "
      "class_0 ... class_N-1",
      cxxopts::value<std::string>())(
      "set",
      "override a config key, e.g. --set data.mean=[0.5,0.5,0.5] (repeatable; default "
      "preprocessing: the file's metadata, else timm's ImageNet mean, std and crop 0.875)",
      cxxopts::value<std::vector<std::string>>())("h,help", "show this help");
  parser.parse_positional({"file"});
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("file"))
    throw std::invalid_argument(
        "import: FILE is required (e.g. moevit import "
        "model.safetensors --out runs/vit/best.pt)");
  if (!options.count("out"))
    throw std::invalid_argument("import: --out FILE is required (e.g. runs/vit/best.pt)");
  TimmImportOptions import_options;
  if (options.count("heads")) {
    import_options.heads = options["heads"].as<int64_t>();
    if (import_options.heads <= 0)
      throw std::invalid_argument("import: --heads: expected an integer > 0, got " +
                                  std::to_string(import_options.heads));
  }
  if (options.count("classes"))
    import_options.class_names = read_class_names_file(options["classes"].as<std::string>());
  if (options.count("set"))
    import_options.overrides = options["set"].as<std::vector<std::string>>();
  const std::string file = options["file"].as<std::string>();
  const std::string out = options["out"].as<std::string>();
  const TimmImport imported = import_timm_safetensors(file, out, import_options);
  const ModelConfig& model = imported.config.model;
  std::printf(
      "wrote %s: a dense ViT from %s (dim %lld, depth %lld, heads %lld, patch %lld, image %lld, "
      "%lld classes; class names from %s)\n",
      out.c_str(), file.c_str(), static_cast<long long>(model.dim),
      static_cast<long long>(model.depth), static_cast<long long>(model.heads),
      static_cast<long long>(model.patch_size), static_cast<long long>(model.image_size),
      static_cast<long long>(model.num_classes), imported.class_names_from.c_str());
  return 0;
}

}  // namespace moevit
