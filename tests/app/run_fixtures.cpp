#include "tests/app/run_fixtures.h"

#include <sys/wait.h>
#include <opencv2/core.hpp>

#include <array>
#include <cstdio>
#include <filesystem>
#include <random>

#include "tests/support/test_files.h"

namespace moevit::testing {

void make_texture_folders(const std::string& root, int per_class_train, int per_class_val) {
  std::mt19937 generator(7);
  std::normal_distribution<double> noise(0.0, 20.0);
  const std::array<std::string, 3> classes = {"checker", "horizontal", "vertical"};
  for (const auto& [split, count] :
       {std::pair<std::string, int>{"train", per_class_train}, {"val", per_class_val}})
    for (size_t label = 0; label < classes.size(); ++label)
      for (int index = 0; index < count; ++index) {
        cv::Mat image(8, 8, CV_8UC1);
        for (int row = 0; row < 8; ++row)
          for (int column = 0; column < 8; ++column) {
            const bool on = label == 0 ? (row + column) % 2 : label == 1 ? row % 2 : column % 2;
            image.at<uint8_t>(row, column) =
                cv::saturate_cast<uint8_t>((on ? 200.0 : 50.0) + noise(generator));
          }
        write_image(
            root + "/" + split + "/" + classes[label] + "/" + std::to_string(index) + ".png",
            image);
      }
}

std::string tiny_config_yaml(const std::string& data_root, const std::string& output_dir,
                             const std::string& router, int epochs) {
  return "model:\n"
         "  image_size: 8\n  patch_size: 2\n  channels: 1\n  dim: 16\n  depth: 2\n"
         "  heads: 2\n  mlp_dim: 32\n  num_classes: 3\n"
         "moe:\n  router: " +
         router +
         "\n  num_experts: 4\n  k: 1\n  every: 2\n"
         "data:\n  root: " +
         data_root +
         "\n  mean: [0.5]\n  std: [0.5]\n  workers: 1\n"
         "optim:\n  lr: 0.003\n  epochs: " +
         std::to_string(epochs) +
         "\n  batch_size: 8\n  warmup_steps: 2\n"
         "run:\n  seed: 3\n  threads: 1\n  device: cpu\n  log_every: 1\n  output_dir: " +
         output_dir + "\n";
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buffer;
  for (size_t read; (read = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;)
    result.output.append(buffer.data(), read);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace moevit::testing
