// Decoding an image file into the 8-bit pixels the transforms take: read the bytes, check the
// header (size limit, truncation), decode with OpenCV, convert to the model's channel count.
#pragma once

#include <cstdint>
#include <string>

namespace cv {
class Mat;
}

namespace moevit {

// Refuse images above 64 megapixels (64,000,000 pixels) unless told otherwise: a
// decompression bomb is a small file that would otherwise allocate gigabytes.
constexpr int64_t kDefaultMaxImagePixels = 64'000'000;

// Reads and decodes `path` into a continuous 8-bit cv::Mat [H,W,channels]: channels 1 is
// grayscale, 3 is RGB (not OpenCV's BGR). Grayscale, RGB, RGBA (alpha dropped) and 16-bit or
// float inputs are all converted. Throws std::runtime_error "PATH: reason" for a file that cannot
// be read, is not a recognised image, is cut short, claims more than max_pixels pixels (checked
// on the header, before decoding) or fails to decode.
cv::Mat decode_image(const std::string& path, int64_t channels,
                     int64_t max_pixels = kDefaultMaxImagePixels);

// The channel and depth conversion of decode_image on an image as cv::imread(IMREAD_UNCHANGED)
// gives it (BGR/BGRA order, depth 8U, 16U or 32F): 16-bit values are scaled by 255/65535, float
// values by 255 (taken as [0, 1]); RGB to gray uses ITU-R 601 weights (cv::COLOR_BGR2GRAY).
// Throws std::runtime_error for other depths or channel counts.
cv::Mat to_model_pixels(const cv::Mat& decoded, int64_t channels);

}  // namespace moevit
