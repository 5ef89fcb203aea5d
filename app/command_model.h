// What every model-running subcommand does first: take --checkpoint, rebuild the model with the
// command line's overrides, set up the runtime and move the model onto its device.
#pragma once

#include <string>

#include "app/cli_options.h"
#include "app/run/model_loading.h"
#include "app/run/runtime.h"

namespace moevit {

// The parser of a command that runs a checkpoint: the run options (add_run_options),
// --checkpoint FILE, --weights auto|average|trained, and `positional` (e.g. "PATH...") in its usage
// line.
cxxopts::Options checkpoint_command_parser(const std::string& program,
                                           const std::string& description,
                                           const std::string& positional);

struct CommandModel {
  LoadedModel loaded;  // in eval mode, on runtime.device
  Runtime runtime;
};

// Loads --checkpoint (the weights --weights names) with run_overrides(options) and configures the
// runtime; the runtime's warning, if any, goes to stderr. Throws std::invalid_argument "COMMAND:
// --checkpoint FILE is required ..." when it was not given.
CommandModel load_command_model(const cxxopts::ParseResult& options, const std::string& command);

}  // namespace moevit
