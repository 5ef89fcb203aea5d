#include "datasets/decode.h"

#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <vector>

#include "datasets/image_header.h"

namespace moevit {
namespace {

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw std::runtime_error("cannot open the file");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                             std::istreambuf_iterator<char>());
  if (file.bad()) throw std::runtime_error("cannot read the file");
  if (bytes.empty()) throw std::runtime_error("empty file");
  return bytes;
}

cv::Mat to_8bit(const cv::Mat& image) {
  cv::Mat converted;
  switch (image.depth()) {
    case CV_8U:
      return image;
    case CV_16U:
      image.convertTo(converted, CV_8U, 255.0 / 65535.0);
      return converted;
    case CV_32F:
      image.convertTo(converted, CV_8U, 255.0);
      return converted;  // saturates
    default:
      throw std::runtime_error("unsupported pixel depth (OpenCV depth " +
                               std::to_string(image.depth()) +
                               "); expected 8-bit, 16-bit or float");
  }
}

}  // namespace

cv::Mat to_model_pixels(const cv::Mat& decoded, int64_t channels) {
  if (channels != 1 && channels != 3)
    throw std::invalid_argument("channels: expected 1 or 3, got " + std::to_string(channels));
  const cv::Mat image = to_8bit(decoded);
  // OpenCV's conversion codes by (input channels, output channels); inputs are BGR(A).
  int code = -1;
  switch (image.channels()) {
    case 1:
      code = channels == 3 ? cv::COLOR_GRAY2RGB : -1;
      break;
    case 3:
      code = channels == 3 ? cv::COLOR_BGR2RGB : cv::COLOR_BGR2GRAY;
      break;
    case 4:
      code = channels == 3 ? cv::COLOR_BGRA2RGB : cv::COLOR_BGRA2GRAY;
      break;
    default:
      throw std::runtime_error("unsupported channel count " + std::to_string(image.channels()) +
                               "; expected 1, 3 or 4");
  }
  if (code < 0) return image.isContinuous() ? image : image.clone();
  cv::Mat converted;
  cv::cvtColor(image, converted, code);
  return converted;
}

cv::Mat decode_image(const std::string& path, int64_t channels, int64_t max_pixels) {
  try {
    const std::vector<uint8_t> bytes = read_file_bytes(path);
    const ImageHeader header = read_image_header(bytes);
    if (header.width > max_pixels / header.height)  // width·height > max, without overflow
      throw std::runtime_error(to_string(header.format) + " of " + std::to_string(header.width) +
                               "x" + std::to_string(header.height) +
                               " pixels exceeds the limit of " + std::to_string(max_pixels) +
                               " pixels");
    check_image_intact(bytes, header.format);
    const cv::Mat decoded = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
    if (decoded.empty())
      throw std::runtime_error("OpenCV could not decode this " + to_string(header.format));
    return to_model_pixels(decoded, channels);
  } catch (const cv::Exception& error) {
    throw std::runtime_error(path + ": OpenCV: " + error.err);
  } catch (const std::runtime_error& error) {
    throw std::runtime_error(path + ": " + error.what());
  }
}

}  // namespace moevit
