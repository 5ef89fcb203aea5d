// moevit export --checkpoint CKPT --out model.safetensors [--weights auto|average|trained]
#include <cstdio>
#include <stdexcept>
#include <string>

#include "app/cli_options.h"
#include "app/commands.h"
#include "app/pretrained/timm_checkpoint.h"

namespace moevit {

int run_export(const CommandArgs& args) {
  cxxopts::Options parser("moevit export",
                          "Write a checkpoint's weights as a safetensors file in timm's ViT "
                          "layout (a dense ViT with the patch stem and class-token pooling).");
  parser.add_options()("checkpoint", "checkpoint file (last.pt / best.pt)",
                       cxxopts::value<std::string>())(
      "out", "the safetensors file to write, e.g. model.safetensors",
      cxxopts::value<std::string>())(
      "weights",
      "auto | average | trained: the moving average of the weights (optim.ema_decay) or the "
      "trained ones; auto = the average where the run kept one",
      cxxopts::value<std::string>()->default_value("auto"))("h,help", "show this help");
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("checkpoint"))
    throw std::invalid_argument("export: --checkpoint FILE is required (e.g. runs/demo/best.pt)");
  if (!options.count("out"))
    throw std::invalid_argument("export: --out FILE is required (e.g. model.safetensors)");
  const std::string out = options["out"].as<std::string>();
  const TimmExport exported =
      export_timm_safetensors(options["checkpoint"].as<std::string>(), out,
                              parse_weight_source(options["weights"].as<std::string>()));
  const ModelConfig& model = exported.model;
  std::printf(
      "wrote %s: %lld tensors in timm's ViT layout (dim %lld, depth %lld, heads %lld, patch "
      "%lld, image %lld, %lld classes; the %s weights)\n",
      out.c_str(), static_cast<long long>(exported.tensors), static_cast<long long>(model.dim),
      static_cast<long long>(model.depth), static_cast<long long>(model.heads),
      static_cast<long long>(model.patch_size), static_cast<long long>(model.image_size),
      static_cast<long long>(model.num_classes),
      exported.averaged_weights ? "moving-average" : "trained");
  return 0;
}

}  // namespace moevit
