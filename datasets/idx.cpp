#include "datasets/idx.h"

#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <limits>
#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <stdexcept>

namespace moevit {
namespace fs = std::filesystem;

namespace {

// A gzip stream that also reads uncompressed files (gzread passes them through unchanged).
class GzipReader {
 public:
  explicit GzipReader(const std::string& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    if (!file_) throw std::runtime_error(path + ": cannot open the IDX file");
  }
  ~GzipReader() { gzclose(file_); }
  const std::string& path() const { return path_; }
  GzipReader(const GzipReader&) = delete;
  GzipReader& operator=(const GzipReader&) = delete;

  // Reads up to `size` bytes; returns how many were read (fewer only at the end of the data).
  size_t read(uint8_t* data, size_t size) {
    size_t total = 0;
    while (total < size) {
      // gzread takes an unsigned int count: read in chunks of at most 1 GiB.
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - total, 1u << 30));
      const int got = gzread(file_, data + total, chunk);
      if (got < 0) {
        int code = 0;
        throw std::runtime_error(path_ + ": cannot decompress: " + gzerror(file_, &code));
      }
      if (got == 0) break;
      total += static_cast<size_t>(got);
    }
    return total;
  }

  void read_exactly(uint8_t* data, size_t size, const char* what) {
    const size_t got = read(data, size);
    if (got != size) throw_too_short(size, got, what);
  }

  // `size` bytes into a vector grown as they arrive: a header that claims more than the file
  // holds fails at the file's end instead of first allocating (and zero-filling) its claim, up
  // to 16 GiB for a 16-byte file.
  std::vector<uint8_t> read_bytes(size_t size, const char* what) {
    constexpr size_t kChunkBytes = size_t{1} << 20;
    std::vector<uint8_t> bytes;
    bytes.reserve(std::min(size, kChunkBytes));
    while (bytes.size() < size) {
      const size_t offset = bytes.size();
      const size_t wanted = std::min(size - offset, kChunkBytes);
      bytes.resize(offset + wanted);
      const size_t got = read(bytes.data() + offset, wanted);
      if (got != wanted) throw_too_short(size, offset + got, what);
    }
    return bytes;
  }

  uint32_t read_big_endian_u32(const char* what) {
    uint8_t bytes[4];
    read_exactly(bytes, 4, what);
    return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) |
           bytes[3];
  }

  void expect_end() {
    uint8_t extra = 0;
    if (read(&extra, 1) != 0)
      throw std::runtime_error(path_ +
                               ": expected the data to end where the header's sizes say, "
                               "found more bytes");
  }

 private:
  [[noreturn]] void throw_too_short(size_t expected, size_t got, const char* what) const {
    throw std::runtime_error(path_ + ": " + what + ": expected " + std::to_string(expected) +
                             " bytes, the file ends after " + std::to_string(got));
  }

  std::string path_;
  gzFile file_;
};

std::string hex(uint32_t value) {
  std::ostringstream text;
  text << "0x" << std::hex << std::setw(8) << std::setfill('0') << value;
  return text.str();
}

// Checks the magic number and returns the dimension sizes, e.g. {60000, 28, 28}.
std::vector<int64_t> read_idx_header(GzipReader& reader, uint32_t expected_magic,
                                     const char* kind) {
  const std::string& path = reader.path();
  const uint32_t magic = reader.read_big_endian_u32("IDX magic number");
  if (magic != expected_magic)
    throw std::runtime_error(path + ": expected an IDX " + kind + " file (magic number " +
                             hex(expected_magic) + "), got magic number " + hex(magic));
  std::vector<int64_t> sizes(expected_magic & 0xFF);
  double total_bytes = 1;
  for (int64_t& size : sizes) {
    size = reader.read_big_endian_u32("IDX dimension size");
    total_bytes *= static_cast<double>(size);
  }
  // A damaged header could ask for exabytes; no IDX data set comes near 16 GiB.
  if (total_bytes > static_cast<double>(int64_t{1} << 34))
    throw std::runtime_error(path + ": IDX header sizes give " + std::to_string(total_bytes) +
                             " bytes; expected at most 16 GiB");
  return sizes;
}

std::string read_text_file(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

void check_class_names(const std::vector<std::string>& class_names) {
  if (class_names.empty())
    throw std::invalid_argument("class names: expected at least one, got none");
  for (const std::string& name : class_names)
    if (name.empty() || name[0] == '.' || name.find('/') != std::string::npos)
      throw std::invalid_argument("class name '" + name +
                                  "': expected a folder name, not empty, without '/' and not "
                                  "starting with '.'");
}

std::string join(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& name : names) joined += (joined.empty() ? "" : ",") + name;
  return joined;
}

std::string find_idx_file(const std::string& source_dir, const std::string& name) {
  const fs::path raw = fs::path(source_dir) / name;
  const fs::path gzipped = fs::path(source_dir) / (name + ".gz");
  if (fs::exists(gzipped)) return gzipped.string();
  if (fs::exists(raw)) return raw.string();
  throw std::invalid_argument(gzipped.string() + ": expected this IDX file (or " + raw.string() +
                              "), it does not exist");
}

}  // namespace

IdxImages read_idx_images(const std::string& path) {
  GzipReader reader(path);
  const std::vector<int64_t> sizes = read_idx_header(reader, kIdxImagesMagic, "images");
  IdxImages images{sizes[0], sizes[1], sizes[2], {}};
  // The 16 GiB check bounds count·rows·cols, not rows·cols when count is 0; sides that fit an
  // int (cv::Mat's) keep rows·cols in range, and an image needs at least one pixel.
  constexpr int64_t kMaxSide = std::numeric_limits<int>::max();
  if (images.rows < 1 || images.cols < 1 || images.rows > kMaxSide || images.cols > kMaxSide)
    throw std::runtime_error(path + ": IDX image size " + std::to_string(images.rows) + "x" +
                             std::to_string(images.cols) + ": expected sides in [1, " +
                             std::to_string(kMaxSide) + "]");
  images.pixels = reader.read_bytes(static_cast<size_t>(images.count * images.rows * images.cols),
                                    "IDX pixels");
  reader.expect_end();
  return images;
}

std::vector<uint8_t> read_idx_labels(const std::string& path) {
  GzipReader reader(path);
  const std::vector<int64_t> sizes = read_idx_header(reader, kIdxLabelsMagic, "labels");
  std::vector<uint8_t> labels = reader.read_bytes(static_cast<size_t>(sizes[0]), "IDX labels");
  reader.expect_end();
  return labels;
}

IdxConversion convert_idx_to_folder(const std::string& images_path, const std::string& labels_path,
                                    const std::vector<std::string>& class_names,
                                    const std::string& out_dir, const std::string& split) {
  check_class_names(class_names);
  const fs::path split_dir = fs::path(out_dir) / split;
  const fs::path marker = split_dir / ".complete";

  // Done before? The marker is written last and records what was written.
  int64_t count = 0;
  {
    GzipReader reader(images_path);
    count = read_idx_header(reader, kIdxImagesMagic, "images")[0];
  }
  const std::string marker_text =
      std::to_string(count) + " images, classes " + join(class_names) + "\n";
  if (fs::exists(marker) && read_text_file(marker.string()) == marker_text)
    return {split_dir.string(), count, /*already_complete=*/true};
  fs::remove(marker);

  const IdxImages images = read_idx_images(images_path);
  const std::vector<uint8_t> labels = read_idx_labels(labels_path);
  if (static_cast<int64_t>(labels.size()) != images.count)
    throw std::runtime_error(labels_path + ": expected " + std::to_string(images.count) +
                             " labels, one per image of " + images_path + ", got " +
                             std::to_string(labels.size()));
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] >= class_names.size())
      throw std::runtime_error(labels_path + ": label " + std::to_string(labels[i]) + " of image " +
                               std::to_string(i) + ": expected < " +
                               std::to_string(class_names.size()) + " (the number of class names)");

  for (const std::string& name : class_names) fs::create_directories(split_dir / name);
  const int digits =
      static_cast<int>(std::to_string(std::max<int64_t>(images.count - 1, 0)).size());
  const int64_t image_bytes = images.rows * images.cols;
  for (int64_t i = 0; i < images.count; ++i) {
    std::ostringstream name;
    name << std::setw(digits) << std::setfill('0') << i << ".png";
    const fs::path path = split_dir / class_names[labels[i]] / name.str();
    // The Mat wraps the IDX bytes without copying; imwrite only reads them.
    const cv::Mat image(static_cast<int>(images.rows), static_cast<int>(images.cols), CV_8UC1,
                        const_cast<uint8_t*>(images.pixels.data() + i * image_bytes));
    if (!cv::imwrite(path.string(), image))
      throw std::runtime_error(path.string() + ": cannot write the PNG");
  }
  std::ofstream marker_file(marker);
  marker_file << marker_text;
  if (!marker_file.flush()) throw std::runtime_error(marker.string() + ": cannot write the marker");
  return {split_dir.string(), images.count, /*already_complete=*/false};
}

const std::vector<std::string>& fashion_mnist_class_names() {
  static const std::vector<std::string> kNames = {"T-shirt_top", "Trouser",   "Pullover", "Dress",
                                                  "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                  "Bag",         "Ankle_boot"};
  return kNames;
}

std::vector<IdxConversion> prepare_fashion_mnist(const std::string& source_dir,
                                                 const std::string& out_dir) {
  const struct {
    const char* prefix;
    const char* split;
  } kSplits[] = {{"train", "train"}, {"t10k", "val"}};
  std::vector<IdxConversion> conversions;
  for (const auto& split : kSplits) {
    const std::string prefix = split.prefix;
    conversions.push_back(
        convert_idx_to_folder(find_idx_file(source_dir, prefix + "-images-idx3-ubyte"),
                              find_idx_file(source_dir, prefix + "-labels-idx1-ubyte"),
                              fashion_mnist_class_names(), out_dir, split.split));
  }
  return conversions;
}

}  // namespace moevit
