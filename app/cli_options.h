// Shared command-line plumbing of the subcommands (cxxopts).
#pragma once

#include <cxxopts.hpp>

#include <string>
#include <vector>

#include "app/commands.h"

namespace moevit {

struct Config;

// Parses the arguments after the subcommand's name; unknown options and missing values are
// refused with one line (std::invalid_argument).
cxxopts::ParseResult parse_command_line(cxxopts::Options& parser, const CommandArgs& args);

// Prints the parser's help when --help was given; returns whether it did.
bool print_help_if_asked(const cxxopts::Options& parser, const cxxopts::ParseResult& options);

// --config, --set, --device, --threads: the options every model-running command shares.
void add_run_options(cxxopts::Options& parser);

// The overrides of a parsed command line: every --set, then --device/--threads as
// run.device=/run.threads= (so they win over the file).
std::vector<std::string> run_overrides(const cxxopts::ParseResult& options);

// The string value of an option, or `fallback` when it was not given.
std::string option_or(const cxxopts::ParseResult& options, const std::string& name,
                      const std::string& fallback);

}  // namespace moevit
