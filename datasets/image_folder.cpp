#include "datasets/image_folder.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <stdexcept>

#include "datasets/seeded_generator.h"

namespace moevit {
namespace fs = std::filesystem;

namespace {

const char* const kImageExtensions[] = {".jpg", ".jpeg", ".png", ".bmp", ".webp",
                                        ".tif", ".tiff", ".pgm", ".ppm"};

bool is_hidden(const fs::path& path) {
  const std::string name = path.filename().string();
  return !name.empty() && name[0] == '.';
}

// Every image below class_dir, hidden files and folders skipped, sorted by path (directory
// iteration order is unspecified).
std::vector<std::string> list_images(const fs::path& class_dir) {
  std::vector<std::string> paths;
  std::error_code error;
  fs::recursive_directory_iterator it(class_dir, fs::directory_options::skip_permission_denied,
                                      error);
  if (error)
    throw std::runtime_error(class_dir.string() +
                             ": cannot list the class folder: " + error.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(error)) {
    if (error) break;
    if (is_hidden(it->path())) {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && has_image_extension(it->path().string()))
      paths.push_back(it->path().string());
  }
  if (error)
    throw std::runtime_error(class_dir.string() +
                             ": cannot list the class folder: " + error.message());
  std::sort(paths.begin(), paths.end());
  return paths;
}

std::vector<ImageSample> select_samples(const std::vector<ImageSample>& samples,
                                        const std::vector<bool>& selected) {
  std::vector<ImageSample> kept;
  for (size_t i = 0; i < samples.size(); ++i)
    if (selected[i]) kept.push_back(samples[i]);
  return kept;
}

}  // namespace

bool has_image_extension(const std::string& path) {
  std::string extension = fs::path(path).extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(kImageExtensions), std::end(kImageExtensions), extension) !=
         std::end(kImageExtensions);
}

ImageFolder scan_image_folder(const std::string& root) {
  std::error_code error;
  if (!fs::exists(root, error))
    throw std::invalid_argument(root +
                                ": expected an image folder (root/<class>/<image>), "
                                "but it does not exist");
  if (!fs::is_directory(root, error))
    throw std::invalid_argument(root +
                                ": expected an image folder (root/<class>/<image>), "
                                "but it is not a folder");

  ImageFolder folder;
  folder.root = root;
  fs::directory_iterator it(root, error);
  for (; !error && it != fs::directory_iterator(); it.increment(error))
    if (it->is_directory() && !is_hidden(it->path()))
      folder.class_names.push_back(it->path().filename().string());
  if (error) throw std::runtime_error(root + ": cannot list the image folder: " + error.message());
  if (folder.class_names.empty())
    throw std::runtime_error(root + ": expected class folders (root/<class>/<image>), found none");
  std::sort(folder.class_names.begin(), folder.class_names.end());

  for (size_t label = 0; label < folder.class_names.size(); ++label) {
    const fs::path class_dir = fs::path(root) / folder.class_names[label];
    const std::vector<std::string> paths = list_images(class_dir);
    if (paths.empty())
      throw std::runtime_error(class_dir.string() +
                               ": expected image files (jpg, jpeg, png, bmp, webp, tif, tiff, "
                               "pgm, ppm) in this class folder, found none");
    for (const std::string& path : paths)
      folder.samples.push_back({path, static_cast<int64_t>(label)});
  }
  return folder;
}

TrainValFolders split_image_folder(const ImageFolder& folder, double val_fraction, uint64_t seed) {
  if (!(val_fraction >= 0.0 && val_fraction < 1.0))
    throw std::invalid_argument(folder.root + ": val_fraction: expected a number in [0, 1), got " +
                                std::to_string(val_fraction));
  std::vector<std::vector<size_t>> members_by_label(folder.class_names.size());
  for (size_t i = 0; i < folder.samples.size(); ++i)
    members_by_label.at(folder.samples[i].label).push_back(i);

  std::vector<bool> in_val(folder.samples.size(), false);
  for (size_t label = 0; label < members_by_label.size(); ++label) {
    std::vector<size_t>& members = members_by_label[label];
    if (members.empty()) continue;
    // At least one sample per class stays in train, so both parts keep every class index.
    const size_t val_count = std::min(
        static_cast<size_t>(std::llround(members.size() * val_fraction)), members.size() - 1);
    std::mt19937 generator = seeded_generator(seed, RandomPurpose::kSplit, label);
    std::shuffle(members.begin(), members.end(), generator);
    for (size_t k = 0; k < val_count; ++k) in_val[members[k]] = true;
  }
  std::vector<bool> in_train(in_val.size());
  std::transform(in_val.begin(), in_val.end(), in_train.begin(), [](bool val) { return !val; });

  TrainValFolders split{folder, folder, /*split_from_one_folder=*/true};
  split.train.samples = select_samples(folder.samples, in_train);
  split.val.samples = select_samples(folder.samples, in_val);
  return split;
}

TrainValFolders resolve_train_val(const std::string& root, double val_fraction, uint64_t seed) {
  const fs::path train_dir = fs::path(root) / "train";
  const fs::path val_dir = fs::path(root) / "val";
  std::error_code error;
  if (!fs::is_directory(train_dir, error))
    return split_image_folder(scan_image_folder(root), val_fraction, seed);
  if (!fs::is_directory(val_dir, error)) {
    // CIFAR-10's and Kaggle's layout, train/ and test/: scanning the root would train a
    // train-vs-test classifier, and validating on test/ would pick best.pt by the test set.
    if (val_fraction <= 0.0)
      throw std::invalid_argument(
          root +
          ": has train/ but no val/: expected data.val_split > 0 (validation, which picks "
          "best.pt, is then split from train/; evaluate a test/ folder once trained, with "
          "moevit eval --data " +
          (fs::path(root) / "test").string() + ")");
    return split_image_folder(scan_image_folder(train_dir.string()), val_fraction, seed);
  }

  TrainValFolders folders{scan_image_folder(train_dir.string()),
                          scan_image_folder(val_dir.string()),
                          /*split_from_one_folder=*/false};
  // ImageFolder numbers each folder's classes on its own: differing class sets would silently
  // give one label two meanings.
  if (folders.train.class_names != folders.val.class_names)
    throw std::runtime_error(
        val_dir.string() + ": expected the same class folders as " + train_dir.string() + " (" +
        std::to_string(folders.train.class_names.size()) + " classes), got " +
        std::to_string(folders.val.class_names.size()) + " classes or different names");
  return folders;
}

std::string held_out_folder(const std::string& root) {
  const fs::path val_dir = fs::path(root) / "val";
  const fs::path test_dir = fs::path(root) / "test";
  std::error_code error;
  if (fs::is_directory(val_dir, error)) return val_dir.string();
  if (fs::is_directory(fs::path(root) / "train", error) && fs::is_directory(test_dir, error))
    return test_dir.string();
  return root;
}

}  // namespace moevit
