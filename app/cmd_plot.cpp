// moevit plot OUT_DIR: OUT_DIR/metrics.jsonl → OUT_DIR/curves.png (loss, accuracy, drop rate).
#include <cstdio>
#include <stdexcept>
#include <string>

#include "app/cli_options.h"
#include "app/commands.h"
#include "app/figures/curves.h"

namespace moevit {

int run_plot(const CommandArgs& args) {
  cxxopts::Options parser("moevit plot", "Draw a run's training curves as OUT_DIR/curves.png.");
  parser.positional_help("OUT_DIR");
  parser.add_options()("run_dir", "the run's output folder (holds metrics.jsonl)",
                       cxxopts::value<std::string>())("h,help", "show this help");
  parser.parse_positional({"run_dir"});
  const cxxopts::ParseResult options = parse_command_line(parser, args);
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.count("run_dir"))
    throw std::invalid_argument("plot: OUT_DIR is required (e.g. moevit plot runs/demo)");
  std::printf("%s\n", plot_run(options["run_dir"].as<std::string>()).c_str());
  return 0;
}

}  // namespace moevit
