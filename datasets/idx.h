// IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/) and their
// conversion into an image folder: OUT/<split>/<class name>/<index>.png. Files may be gzip
// compressed or raw; zlib reads both.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moevit {

// IDX magic numbers: two zero bytes, type 0x08 (unsigned byte), number of dimensions.
constexpr uint32_t kIdxImagesMagic = 0x00000803;  // [N,H,W]
constexpr uint32_t kIdxLabelsMagic = 0x00000801;  // [N]

struct IdxImages {
  int64_t count = 0;            // N, e.g. 60000
  int64_t rows = 0;             // H, e.g. 28
  int64_t cols = 0;             // W, e.g. 28
  std::vector<uint8_t> pixels;  // [N,H,W], row-major, 0 = black
};

// Throw std::runtime_error naming the file for a wrong magic number, an image side outside
// [1, 2^31 - 1], or data shorter or longer than the header's sizes say. Memory grows with the
// data read, never with what a header claims.
IdxImages read_idx_images(const std::string& path);
std::vector<uint8_t> read_idx_labels(const std::string& path);  // [N]

struct IdxConversion {
  std::string split_dir;          // OUT/<split>
  int64_t images = 0;             // N
  bool already_complete = false;  // true: an earlier run finished it, nothing was written
};

// Writes image i as OUT/<split>/<class_names[label i]>/<i>.png, i zero-padded to the digits of
// N-1, then a marker file OUT/<split>/.complete (hidden, so image folders skip it). If the
// marker already records the same count and class names, does nothing. Throws
// std::runtime_error naming the file for bad IDX data, image and label counts that differ, or a
// label without a class name; std::invalid_argument for an unusable class name.
IdxConversion convert_idx_to_folder(const std::string& images_path, const std::string& labels_path,
                                    const std::vector<std::string>& class_names,
                                    const std::string& out_dir, const std::string& split);

// Fashion-MNIST's labels 0-9 (github.com/zalandoresearch/fashion-mnist), as folder names.
const std::vector<std::string>& fashion_mnist_class_names();

// Converts SOURCE/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] into OUT/train and OUT/val.
std::vector<IdxConversion> prepare_fashion_mnist(const std::string& source_dir,
                                                 const std::string& out_dir);

}  // namespace moevit
