// What an image file's bytes say before any pixel is decoded: its format, its width and height,
// and whether it is whole. The decoder uses this to refuse
// decompression bombs (a small file that claims a huge canvas) and truncated files before
// handing the bytes to OpenCV, which would allocate the full canvas or pad it with grey.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moevit {

enum class ImageFormat { kPng, kJpeg, kBmp, kWebp, kTiff, kPnm };

std::string to_string(ImageFormat format);

struct ImageHeader {
  ImageFormat format;
  int64_t width;   // pixels, > 0
  int64_t height;  // pixels, > 0
};

// Parses just enough of the header: PNG IHDR, JPEG SOFn, BMP info header, WebP VP8/VP8L/VP8X,
// the first TIFF IFD, PNM (P1-P6) text header. Throws std::runtime_error without a path (the
// caller adds it), e.g. "not a PNG, JPEG, BMP, WebP, TIFF or PNM image".
ImageHeader read_image_header(const std::vector<uint8_t>& bytes);

// Throws std::runtime_error if a PNG's chunks run past the end of the file or fail their CRC,
// or a JPEG has no end-of-image marker after its first scan: the file was cut short or damaged.
// Caught here, such files never reach libpng or libjpeg, which would print to stderr or decode
// them partly (grey fill). Other formats are left to the decoder.
void check_image_intact(const std::vector<uint8_t>& bytes, ImageFormat format);

}  // namespace moevit
