// moevit prepare: IDX files (Fashion-MNIST, MNIST, …) → OUT/<split>/<class>/<index>.png, the
// image-folder layout the other commands read. Thin: parse, call datasets/idx, print one line.
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "app/cli_options.h"
#include "app/commands.h"
#include "datasets/idx.h"

namespace moevit {
namespace {

const char kUsage[] =
    "usage: moevit prepare fashion-mnist --out DIR [--source DIR]\n"
    "       moevit prepare idx --images FILE --labels FILE --out DIR [--split NAME] "
    "[--names a,b,...]";
const char kSeeHelp[] = " (see 'moevit prepare --help')";
const char kFashionMnistSource[] = "/usr/share/datasets/fashion-mnist";

std::string summary_line(const std::vector<IdxConversion>& conversions) {
  std::string line = "prepare:";
  for (const IdxConversion& conversion : conversions)
    line += " " + conversion.split_dir + " " + std::to_string(conversion.images) + " images (" +
            (conversion.already_complete ? "already complete" : "written") + ");";
  line.pop_back();
  return line;
}

std::string required(const cxxopts::ParseResult& options, const char* name) {
  if (!options.count(name))
    throw std::invalid_argument(std::string("--") + name + ": expected a value, got none" +
                                kSeeHelp);
  return options[name].as<std::string>();
}

// Each source has its own options; one given to the other is a mistake worth a message.
void refuse_options(const cxxopts::ParseResult& options, const std::vector<const char*>& names,
                    const std::string& source) {
  for (const char* name : names)
    if (options.count(name))
      throw std::invalid_argument(std::string("--") + name + ": not an option of 'prepare " +
                                  source + "'" + kSeeHelp);
}

std::vector<std::string> digit_names(int count) {
  std::vector<std::string> names;
  for (int digit = 0; digit < count; ++digit) names.push_back(std::to_string(digit));
  return names;
}

}  // namespace

int run_prepare(const CommandArgs& args) {
  const std::string source = args.empty() ? "" : args[0];
  if (source == "-h" || source == "--help") {
    std::printf("%s\n", kUsage);
    return 0;
  }
  if (source != "fashion-mnist" && source != "idx")
    throw std::invalid_argument("expected a source, fashion-mnist or idx, got " +
                                (source.empty() ? "none" : "'" + source + "'") + kSeeHelp);

  cxxopts::Options parser("moevit prepare " + source, "Convert IDX files into a folder of PNGs");
  parser.add_options()("out", "output folder", cxxopts::value<std::string>())(
      "source", "Fashion-MNIST folder", cxxopts::value<std::string>())(
      "images", "IDX images file (.gz or raw)", cxxopts::value<std::string>())(
      "labels", "IDX labels file (.gz or raw)", cxxopts::value<std::string>())(
      "split", "split folder name", cxxopts::value<std::string>())(
      "names", "class names by label, separated by commas", cxxopts::value<std::string>())(
      "h,help", "show this help");
  const cxxopts::ParseResult options =
      parse_command_line(parser, CommandArgs(args.begin() + 1, args.end()));
  if (print_help_if_asked(parser, options)) return 0;
  if (!options.unmatched().empty())
    throw std::invalid_argument("unexpected argument '" + options.unmatched().front() + "'" +
                                kSeeHelp);

  std::vector<IdxConversion> conversions;
  if (source == "fashion-mnist") {
    refuse_options(options, {"images", "labels", "split", "names"}, source);
    conversions = prepare_fashion_mnist(option_or(options, "source", kFashionMnistSource),
                                        required(options, "out"));
  } else {
    refuse_options(options, {"source"}, source);
    const std::vector<std::string> names =
        options.count("names") ? comma_list(options["names"].as<std::string>()) : digit_names(10);
    conversions.push_back(
        convert_idx_to_folder(required(options, "images"), required(options, "labels"), names,
                              required(options, "out"), option_or(options, "split", "train")));
  }
  std::printf("%s\n", summary_line(conversions).c_str());
  return 0;
}

}  // namespace moevit
