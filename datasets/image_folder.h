// A labelled image folder in the torchvision ImageFolder convention: root/<class>/<image>,
// classes sorted by name give the label indices. Only file names are listed here; decoding is
// datasets/decode.h, and a bad image is found (and skipped) only when the loader reads it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moevit {

struct ImageSample {
  std::string path;  // e.g. "data/fmnist/train/Bag/00012.png"
  int64_t label;     // index into ImageFolder::class_names
};

struct ImageFolder {
  std::string root;                      // the folder that holds the class folders
  std::vector<std::string> class_names;  // sorted by name; class_names[label]
  std::vector<ImageSample> samples;      // sorted by class, then by path
};

// True for the extensions we read, in any case: jpg jpeg png bmp webp tif tiff pgm ppm.
bool has_image_extension(const std::string& path);

// Lists root/<class>/**/<image>. Nested folders under a class count for that class; names
// starting with '.' (files or folders) are skipped, as are files of other extensions.
// Throws std::invalid_argument if root is missing or not a folder, std::runtime_error if it
// holds no class folders or a class folder holds no image.
ImageFolder scan_image_folder(const std::string& root);

struct TrainValFolders {
  ImageFolder train;
  ImageFolder val;
  bool split_from_one_folder;  // false: root/train and root/val; true: a seeded split of root
};

// Splits each class separately (so both parts keep the class balance): round(count *
// val_fraction) of its samples, picked by a generator seeded with `seed`, go to val. The same
// folder, fraction and seed always give the same split. val_fraction in [0, 1).
TrainValFolders split_image_folder(const ImageFolder& folder, double val_fraction, uint64_t seed);

// root/train and root/val when both exist (their class names must agree); root/train alone
// (a test/ beside it is never read) split by val_fraction, which must then be > 0; otherwise
// split_image_folder(scan_image_folder(root), val_fraction, seed).
TrainValFolders resolve_train_val(const std::string& root, double val_fraction, uint64_t seed);

// The folder to evaluate for a data root: root/val when it exists, else root/test when root
// also has train/ (the train/ + test/ layout), else root itself as a folder of class folders.
std::string held_out_folder(const std::string& root);

}  // namespace moevit
