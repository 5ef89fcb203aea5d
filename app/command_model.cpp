#include "app/command_model.h"

#include <cstdio>
#include <stdexcept>

#include "app/cli_options.h"

namespace moevit {

cxxopts::Options checkpoint_command_parser(const std::string& program,
                                           const std::string& description,
                                           const std::string& positional) {
  cxxopts::Options parser(program, description);
  parser.positional_help(positional);
  add_run_options(parser);
  parser.add_options()("checkpoint", "checkpoint file (last.pt / best.pt)",
                       cxxopts::value<std::string>())(
      "weights",
      "auto | average | trained: the moving average of the weights (optim.ema_decay) or the "
      "trained ones; auto = the average where the run kept one",
      cxxopts::value<std::string>()->default_value("auto"));
  return parser;
}

CommandModel load_command_model(const cxxopts::ParseResult& options, const std::string& command) {
  if (!options.count("checkpoint"))
    throw std::invalid_argument(command +
                                ": --checkpoint FILE is required (e.g. runs/demo/best.pt)");
  CommandModel model;
  model.loaded = load_model(options["checkpoint"].as<std::string>(), run_overrides(options),
                            parse_weight_source(options["weights"].as<std::string>()));
  std::string warning;
  model.runtime = configure_runtime(model.loaded.config.run, &warning);
  if (!warning.empty()) std::fprintf(stderr, "%s\n", warning.c_str());
  model.loaded.model->to(model.runtime.device);
  return model;
}

}  // namespace moevit
