// A tiny data set and config for end-to-end tests of train / eval / classify / heatmap: three
// classes of 8×8 grayscale textures, in train/ and val/ folders.
#pragma once

#include <string>

namespace moevit::testing {

// Writes ROOT/{train,val}/{horizontal,vertical,checker}/*.png: `per_class_train` and
// `per_class_val` noisy textures per class, seeded.
void make_texture_folders(const std::string& root, int per_class_train = 12, int per_class_val = 4);

// A config YAML for a tiny model (8×8, patch 2, dim 16, depth 2) on `data_root` writing to
// `output_dir`, with the given router (dense, topk, priority or soft) and epochs.
std::string tiny_config_yaml(const std::string& data_root, const std::string& output_dir,
                             const std::string& router = "topk", int epochs = 1);

// Runs a shell command, returns its exit status and what it printed (stdout + stderr).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

}  // namespace moevit::testing
