// The subcommands of the moevit executable. Each takes the arguments after its name and
// returns the process exit code; errors are thrown and reported once in app/main.cpp.
#pragma once

#include <string>
#include <vector>

namespace moevit {

using CommandArgs = std::vector<std::string>;

int run_info(const CommandArgs& args);
int run_prepare(const CommandArgs& args);
int run_train(const CommandArgs& args);
int run_eval(const CommandArgs& args);
int run_bench(const CommandArgs& args);
int run_plot(const CommandArgs& args);
int run_classify(const CommandArgs& args);
int run_heatmap(const CommandArgs& args);
int run_augment_preview(const CommandArgs& args);
int run_export(const CommandArgs& args);
int run_import(const CommandArgs& args);

}  // namespace moevit
