// Scratch files for the datasets/ tests: a temporary folder removed on destruction, and
// writers for images and raw bytes that create parent folders as needed.
#pragma once

#include <opencv2/core.hpp>

#include <functional>
#include <string>
#include <vector>

namespace moevit::testing {

class TempDir {
 public:
  TempDir();   // a fresh folder under the system temp dir
  ~TempDir();  // removes it and everything in it
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

// Encodes `image` by the extension of `path` (cv::imwrite) and writes it; throws on failure.
void write_image(const std::string& path, const cv::Mat& image);
void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes);
void write_text(const std::string& path, const std::string& text);
// The whole file's bytes; empty when it cannot be read.
std::string read_all(const std::string& path);

// cv::imencode with the given extension, e.g. ".png"; throws on failure.
std::vector<uint8_t> encode_image(const std::string& extension, const cv::Mat& image,
                                  const std::vector<int>& params = {});

// The what() of the exception `action` throws, or "" if it throws none: for checking that an
// error message names the file and what was expected.
std::string error_message(const std::function<void()>& action);

}  // namespace moevit::testing
