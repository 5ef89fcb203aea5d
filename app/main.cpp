// moevit: one executable, a table of subcommands (as ninja's `-t` tools). Every error a user
// can cause is an exception, caught here once and printed as one line.
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "app/commands.h"
#include "app/run/spellcheck.h"

namespace {

struct Command {
  const char* name;
  const char* description;
  int (*run)(const moevit::CommandArgs&);
};

const Command kCommands[] = {
    {"info", "print a model's architecture and parameter counts (--config FILE)", moevit::run_info},
    {"prepare", "convert IDX data (Fashion-MNIST, MNIST) into class folders of PNGs",
     moevit::run_prepare},
    {"train", "train on a folder of class folders (--config FILE [--resume DIR])",
     moevit::run_train},
    {"eval", "evaluate a checkpoint: top-1/5, per class, confusion, expert load", moevit::run_eval},
    {"plot", "draw OUT/curves.png from OUT/metrics.jsonl", moevit::run_plot},
    {"classify", "classify image files or folders (--checkpoint CKPT PATH...)",
     moevit::run_classify},
    {"heatmap", "draw the expert each patch went to (--checkpoint CKPT IMAGE... --out DIR)",
     moevit::run_heatmap},
    {"bench", "training and inference throughput of a config's model, against the GEMM peak",
     moevit::run_bench},
    {"augment-preview", "draw training images as augmented, a grid PNG (--config FILE)",
     moevit::run_augment_preview},
    {"export", "write a checkpoint as a timm ViT safetensors file (--checkpoint CKPT --out FILE)",
     moevit::run_export},
    {"import", "turn a timm ViT safetensors file into a checkpoint (FILE --out CKPT)",
     moevit::run_import},
};

void print_usage() {
  std::printf("usage: moevit <command> [options]   (moevit <command> --help for its options)\n\n");
  for (const Command& command : kCommands)
    std::printf("  %-16s %s\n", command.name, command.description);
}

const Command* find_command(const std::string& name) {
  for (const Command& command : kCommands)
    if (name == command.name) return &command;
  return nullptr;
}

std::string closest_command(const std::string& name) {
  const Command* best = nullptr;
  size_t best_distance = 3;  // suggest only near misses
  for (const Command& command : kCommands) {
    const size_t distance = moevit::edit_distance(name, command.name);
    if (distance < best_distance) best = &command, best_distance = distance;
  }
  return best ? best->name : "";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    print_usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string name = argv[1];
  const Command* command = find_command(name);
  if (!command) {
    const std::string suggestion = closest_command(name);
    std::fprintf(stderr, "moevit: unknown command '%s'%s\n", name.c_str(),
                 suggestion.empty() ? "" : (", did you mean '" + suggestion + "'?").c_str());
    return 2;
  }
  try {
    return command->run(moevit::CommandArgs(argv + 2, argv + argc));
  } catch (const c10::Error& error) {
    std::fprintf(stderr, "moevit %s: error: %s\n", name.c_str(), error.what_without_backtrace());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "moevit %s: error: %s\n", name.c_str(), error.what());
  }
  return 1;
}
