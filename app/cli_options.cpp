#include "app/cli_options.h"

#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace moevit {

cxxopts::ParseResult parse_command_line(cxxopts::Options& parser, const CommandArgs& args) {
  std::vector<const char*> argv{"moevit"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  try {
    return parser.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const cxxopts::exceptions::exception& error) {
    throw std::invalid_argument(std::string(error.what()) + " (see --help)");
  }
}

bool print_help_if_asked(const cxxopts::Options& parser, const cxxopts::ParseResult& options) {
  if (!options.count("help")) return false;
  std::printf("%s\n", parser.help().c_str());
  return true;
}

void add_run_options(cxxopts::Options& parser) {
  parser.add_options()("config", "YAML config file", cxxopts::value<std::string>())(
      "set", "override a config key, e.g. --set moe.k=2 (repeatable)",
      cxxopts::value<std::vector<std::string>>())("device", "auto | cpu | cuda (run.device)",
                                                  cxxopts::value<std::string>())(
      "threads", "intra-op threads, 0 = every core (run.threads)", cxxopts::value<std::string>())(
      "h,help", "show this help");
}

std::vector<std::string> run_overrides(const cxxopts::ParseResult& options) {
  std::vector<std::string> overrides;
  if (options.count("set")) overrides = options["set"].as<std::vector<std::string>>();
  if (options.count("device"))
    overrides.push_back("run.device=" + options["device"].as<std::string>());
  if (options.count("threads"))
    overrides.push_back("run.threads=" + options["threads"].as<std::string>());
  return overrides;
}

std::vector<std::string> comma_list(const std::string& text) {
  std::vector<std::string> items;
  std::istringstream list(text);
  for (std::string item; std::getline(list, item, ',');) items.push_back(item);
  return items;
}

std::string option_or(const cxxopts::ParseResult& options, const std::string& name,
                      const std::string& fallback) {
  return options.count(name) ? options[name].as<std::string>() : fallback;
}

}  // namespace moevit
