#include "datasets/image_header.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using namespace testing;  // moevit::testing, tests/support/test_files.h

const cv::Mat kSevenBySix(/*rows=*/6, /*cols=*/7, CV_8UC3, cv::Scalar(10, 20, 30));

struct Encoding {
  const char* extension;
  std::vector<int> params;
  ImageFormat format;
};

TEST(ImageHeader, ReadsWidthAndHeightOfEveryFormat) {
  const Encoding encodings[] = {
      {".png", {}, ImageFormat::kPng},
      {".jpg", {}, ImageFormat::kJpeg},
      {".jpg", {cv::IMWRITE_JPEG_PROGRESSIVE, 1}, ImageFormat::kJpeg},
      {".bmp", {}, ImageFormat::kBmp},
      {".webp", {cv::IMWRITE_WEBP_QUALITY, 80}, ImageFormat::kWebp},   // lossy: VP8
      {".webp", {cv::IMWRITE_WEBP_QUALITY, 101}, ImageFormat::kWebp},  // lossless: VP8L
      {".tif", {}, ImageFormat::kTiff},
      {".ppm", {}, ImageFormat::kPnm},
      {".ppm", {cv::IMWRITE_PXM_BINARY, 0}, ImageFormat::kPnm},
  };
  for (const Encoding& encoding : encodings) {
    const ImageHeader header =
        read_image_header(encode_image(encoding.extension, kSevenBySix, encoding.params));
    EXPECT_EQ(header.format, encoding.format) << encoding.extension;
    EXPECT_EQ(header.width, 7) << encoding.extension;
    EXPECT_EQ(header.height, 6) << encoding.extension;
  }
}

TEST(ImageHeader, PnmCommentsAndWebpExtendedHeader) {
  const std::string pgm = "P5\n# a comment 99 99\n 12 # more\n34\n255\n";
  const ImageHeader pnm = read_image_header(std::vector<uint8_t>(pgm.begin(), pgm.end()));
  EXPECT_EQ(pnm.width, 12);
  EXPECT_EQ(pnm.height, 34);

  // VP8X: flags (4 bytes), then 24-bit little-endian canvas width-1 and height-1.
  std::vector<uint8_t> vp8x = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E', 'B', 'P',
                               'V', 'P', '8', 'X', 10, 0, 0, 0, 0,   0,   0,   0};
  for (uint8_t byte : {0x0F, 0x27, 0x00, 0x3F, 0x42, 0x0F}) vp8x.push_back(byte);
  const ImageHeader webp = read_image_header(vp8x);
  EXPECT_EQ(webp.width, 10000);     // 0x00270F + 1
  EXPECT_EQ(webp.height, 1000000);  // 0x0F423F + 1
}

// An APP segment may hold anything, also bytes that look like a frame header: the walker must
// skip the segment by its length and find the real one.
TEST(ImageHeader, JpegMarkersInsideAppSegmentsAreSkipped) {
  const std::vector<uint8_t> jpeg = encode_image(".jpg", kSevenBySix);
  std::vector<uint8_t> with_app = {jpeg[0], jpeg[1]};
  const std::vector<uint8_t> app1 = {0xFF, 0xE1, 0x00, 0x0B, 0xFF, 0xC0, 0x00,
                                     0x11, 0x08, 0x10, 0x00, 0x10, 0x00};
  with_app.insert(with_app.end(), app1.begin(), app1.end());
  with_app.insert(with_app.end(), jpeg.begin() + 2, jpeg.end());
  const ImageHeader header = read_image_header(with_app);
  EXPECT_EQ(header.width, 7);
  EXPECT_EQ(header.height, 6);
  EXPECT_NO_THROW(check_image_intact(with_app, ImageFormat::kJpeg));
}

// Found by fuzzing (fuzz/corpus/image_decode/regress-tiff-width-twice.tif): an IFD with
// ImageWidth 2 (SHORT), then a second ImageWidth entry of an invalid type saying 1. The sniffer
// read the last entry, OpenCV's libtiff the first, so the size guard saw 1x2 and the decoder
// made 2x2. A TIFF that names a side twice, or with a type other than SHORT or LONG, is refused.
TEST(ImageHeader, RefusesATiffThatNamesASideTwiceOrWithAnotherType) {
  // Little-endian TIFF, IFD at 8 with 3 entries: ImageWidth SHORT 2, ImageLength SHORT 2, and a
  // third entry whose tag and type the cases set.
  const auto tiff = [](uint16_t third_tag, uint16_t third_type) {
    std::vector<uint8_t> bytes = {'I', 'I', 42, 0, 8, 0, 0, 0, 3, 0};
    const auto entry = [&](uint16_t tag, uint16_t type, uint32_t value) {
      const uint8_t fields[12] = {uint8_t(tag),
                                  uint8_t(tag >> 8),
                                  uint8_t(type),
                                  uint8_t(type >> 8),
                                  1,
                                  0,
                                  0,
                                  0,
                                  uint8_t(value),
                                  uint8_t(value >> 8),
                                  0,
                                  0};
      bytes.insert(bytes.end(), fields, fields + 12);
    };
    entry(256, 3, 2);
    entry(257, 3, 2);
    entry(third_tag, third_type, 1);
    for (int i = 0; i < 8; ++i) bytes.push_back(0);  // next IFD offset, padding
    return bytes;
  };
  const ImageHeader plain = read_image_header(tiff(262, 3));  // PhotometricInterpretation
  EXPECT_EQ(plain.width, 2);
  EXPECT_EQ(plain.height, 2);
  EXPECT_EQ(error_message([&] { read_image_header(tiff(256, 0)); }),
            "TIFF ImageWidth of type 0, expected SHORT (3) or LONG (4)");
  EXPECT_EQ(error_message([&] { read_image_header(tiff(257, 4)); }),
            "TIFF with two ImageLength entries");
}

TEST(ImageHeader, RefusesUnknownAndShortHeaders) {
  const std::string text = "hello, I am not an image";
  EXPECT_EQ(
      error_message([&] { read_image_header(std::vector<uint8_t>(text.begin(), text.end())); }),
      "not a PNG, JPEG, BMP, WebP, TIFF or PNM image");
  const std::vector<uint8_t> png = encode_image(".png", kSevenBySix);
  EXPECT_THROW(read_image_header(std::vector<uint8_t>(png.begin(), png.begin() + 18)),
               std::runtime_error);
  EXPECT_THROW(read_image_header({}), std::runtime_error);
}

TEST(ImageHeader, TruncatedOrDamagedPngAndTruncatedJpegAreCaught) {
  const std::vector<uint8_t> png = encode_image(".png", kSevenBySix);
  const std::vector<uint8_t> jpeg = encode_image(".jpg", kSevenBySix);
  EXPECT_NO_THROW(check_image_intact(png, ImageFormat::kPng));
  EXPECT_NO_THROW(check_image_intact(jpeg, ImageFormat::kJpeg));

  const std::vector<uint8_t> short_png(png.begin(), png.end() - 5);
  EXPECT_THROW(check_image_intact(short_png, ImageFormat::kPng), std::runtime_error);
  const std::vector<uint8_t> short_jpeg(jpeg.begin(), jpeg.end() - 10);
  EXPECT_THROW(check_image_intact(short_jpeg, ImageFormat::kJpeg), std::runtime_error);
  const std::vector<uint8_t> header_only(jpeg.begin(), jpeg.begin() + 40);
  EXPECT_THROW(check_image_intact(header_only, ImageFormat::kJpeg), std::runtime_error);

  std::vector<uint8_t> damaged_png = png;
  damaged_png[png.size() / 2] ^= 0xFF;
  EXPECT_NE(error_message([&] {
              check_image_intact(damaged_png, ImageFormat::kPng);
            }).find("fails its CRC check"),
            std::string::npos);

  std::vector<uint8_t> trailing = jpeg;  // bytes after the end-of-image marker are harmless
  trailing.insert(trailing.end(), {0, 0, 0});
  EXPECT_NO_THROW(check_image_intact(trailing, ImageFormat::kJpeg));
}

}  // namespace
}  // namespace moevit
