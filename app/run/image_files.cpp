#include "app/run/image_files.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>

#include "app/run/config.h"
#include "app/run/data_setup.h"
#include "datasets/image_folder.h"
#include "datasets/loader.h"

namespace moevit {

namespace {

bool is_hidden(const std::filesystem::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

std::vector<std::string> images_below(const std::string& folder) {
  std::vector<std::string> found;
  std::filesystem::recursive_directory_iterator entries(
      folder, std::filesystem::directory_options::skip_permission_denied);
  for (auto entry = entries; entry != std::filesystem::recursive_directory_iterator(); ++entry) {
    if (is_hidden(entry->path())) {
      if (entry->is_directory()) entry.disable_recursion_pending();
      continue;
    }
    if (!entry->is_directory() && has_image_extension(entry->path().string()))
      found.push_back(entry->path().string());
  }
  if (found.empty()) throw std::invalid_argument(folder + ": no image files in this folder");
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

std::vector<std::string> list_image_files(const std::vector<std::string>& inputs) {
  std::vector<std::string> files;
  for (const std::string& input : inputs) {
    if (!std::filesystem::is_directory(input)) {
      files.push_back(input);
      continue;
    }
    const std::vector<std::string> found = images_below(input);
    files.insert(files.end(), found.begin(), found.end());
  }
  return files;
}

std::unique_ptr<ImageLoader> image_file_loader(const std::vector<std::string>& paths,
                                               const Config& config, int64_t batch_size) {
  ImageFolder folder;
  folder.class_names = {"unlabelled"};
  for (const std::string& path : paths) folder.samples.push_back({path, 0});
  LoaderOptions options = loader_options(config, TransformMode::kEval);
  options.batch_size = batch_size;
  return std::make_unique<ImageLoader>(std::move(folder), transform_options(config), options);
}

}  // namespace moevit
