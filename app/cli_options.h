// Shared command-line plumbing of the subcommands (cxxopts).
#pragma once

// cxxopts splits every value of a list option at commas, which cut `--set moe.blocks=[1,3]` in
// two and a file name with a comma in pieces. No value is split here (the unit separator never
// appears in one); the options that take comma lists split them with comma_list. Every file
// that uses cxxopts includes it through this header, so all agree on the delimiter.
#define CXXOPTS_VECTOR_DELIMITER '\x1f'
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

// "4,8,16" → {"4", "8", "16"}; an empty text gives no items.
std::vector<std::string> comma_list(const std::string& text);

// The string value of an option, or `fallback` when it was not given.
std::string option_or(const cxxopts::ParseResult& options, const std::string& name,
                      const std::string& fallback);

}  // namespace moevit
