#include "datasets/decode.h"

#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/test_files.h"

namespace moevit {
namespace {

using namespace testing;  // moevit::testing, tests/support/test_files.h

cv::Vec3b pixel3(const cv::Mat& image, int row, int col) {
  return image.at<cv::Vec3b>(row, col);
}

TEST(Decode, ColourBecomesRgbOrGray) {
  TempDir dir;
  // OpenCV's order is BGR: blue 10, green 20, red 200.
  write_image(dir / "colour.png", cv::Mat(4, 5, CV_8UC3, cv::Scalar(10, 20, 200)));
  const cv::Mat rgb = decode_image(dir / "colour.png", 3);
  EXPECT_EQ(rgb.type(), CV_8UC3);
  EXPECT_EQ(rgb.rows, 4);
  EXPECT_EQ(rgb.cols, 5);
  EXPECT_TRUE(rgb.isContinuous());
  EXPECT_EQ(pixel3(rgb, 3, 4), cv::Vec3b(200, 20, 10));

  const cv::Mat gray = decode_image(dir / "colour.png", 1);
  EXPECT_EQ(gray.type(), CV_8UC1);
  // ITU-R 601: 0.299 R + 0.587 G + 0.114 B = 59.8 + 11.74 + 1.14 = 72.68 → 73.
  EXPECT_EQ(gray.at<uint8_t>(0, 0), 73);
}

TEST(Decode, GrayBecomesThreeEqualChannels) {
  TempDir dir;
  write_image(dir / "gray.png", cv::Mat(3, 3, CV_8UC1, cv::Scalar(77)));
  EXPECT_EQ(pixel3(decode_image(dir / "gray.png", 3), 1, 1), cv::Vec3b(77, 77, 77));
  const cv::Mat gray = decode_image(dir / "gray.png", 1);
  EXPECT_EQ(gray.type(), CV_8UC1);
  EXPECT_EQ(gray.at<uint8_t>(2, 2), 77);
}

TEST(Decode, AlphaIsDropped) {
  TempDir dir;
  write_image(dir / "rgba.png", cv::Mat(2, 2, CV_8UC4, cv::Scalar(10, 20, 200, 0)));
  EXPECT_EQ(pixel3(decode_image(dir / "rgba.png", 3), 0, 0), cv::Vec3b(200, 20, 10));
  EXPECT_EQ(decode_image(dir / "rgba.png", 1).at<uint8_t>(0, 0), 73);
}

TEST(Decode, SixteenBitIsScaledToEightBit) {
  TempDir dir;
  cv::Mat deep(1, 3, CV_16UC1);
  deep.at<uint16_t>(0, 0) = 0;
  deep.at<uint16_t>(0, 1) = 257 * 100;  // 65535 / 255 = 257: exactly 100 in 8 bits
  deep.at<uint16_t>(0, 2) = 65535;
  write_image(dir / "deep.png", deep);
  const cv::Mat gray = decode_image(dir / "deep.png", 1);
  EXPECT_EQ(gray.type(), CV_8UC1);
  EXPECT_EQ(gray.at<uint8_t>(0, 0), 0);
  EXPECT_EQ(gray.at<uint8_t>(0, 1), 100);
  EXPECT_EQ(gray.at<uint8_t>(0, 2), 255);

  const cv::Mat deep_colour(1, 1, CV_16UC3, cv::Scalar(257 * 1, 257 * 2, 257 * 3));
  write_image(dir / "deep_colour.png", deep_colour);
  EXPECT_EQ(pixel3(decode_image(dir / "deep_colour.png", 3), 0, 0), cv::Vec3b(3, 2, 1));
}

TEST(Decode, FloatIsTakenAsZeroToOne) {
  const cv::Mat pixels = to_model_pixels(cv::Mat(1, 1, CV_32FC1, cv::Scalar(0.2)), 1);
  EXPECT_EQ(pixels.at<uint8_t>(0, 0), 51);  // 0.2 · 255
  EXPECT_THROW(to_model_pixels(cv::Mat(1, 1, CV_16SC1), 1), std::runtime_error);
  EXPECT_THROW(to_model_pixels(cv::Mat(1, 1, CV_8UC2), 1), std::runtime_error);
  EXPECT_THROW(to_model_pixels(cv::Mat(1, 1, CV_8UC1), 2), std::invalid_argument);
}

TEST(Decode, RefusesImagesOverThePixelLimitFromTheHeader) {
  TempDir dir;
  write_image(dir / "big.png", cv::Mat(100, 100, CV_8UC1, cv::Scalar(1)));
  EXPECT_NO_THROW(decode_image(dir / "big.png", 1, /*max_pixels=*/10000));
  const std::string message =
      error_message([&] { decode_image(dir / "big.png", 1, /*max_pixels=*/9999); });
  EXPECT_EQ(message, dir / "big.png" + ": PNG of 100x100 pixels exceeds the limit of 9999 pixels");

  // A bomb: a PNG whose IHDR claims 100000 x 100000 pixels; refused before any decoding.
  std::vector<uint8_t> bomb = encode_image(".png", cv::Mat(1, 1, CV_8UC1, cv::Scalar(0)));
  for (int offset : {16, 20}) {  // IHDR width and height, big-endian
    bomb[offset + 0] = 0x00;
    bomb[offset + 1] = 0x01;
    bomb[offset + 2] = 0x86;
    bomb[offset + 3] = 0xA0;
  }
  write_bytes(dir / "bomb.png", bomb);
  EXPECT_NE(error_message([&] {
              decode_image(dir / "bomb.png", 3);
            }).find("PNG of 100000x100000 pixels exceeds the limit of 64000000"),
            std::string::npos);
}

TEST(Decode, BadFilesThrowNamingThePath) {
  TempDir dir;
  const std::vector<uint8_t> png = encode_image(".png", cv::Mat(8, 8, CV_8UC1, cv::Scalar(5)));
  write_bytes(dir / "empty.png", {});
  write_text(dir / "text.jpg", "not a picture at all");
  write_bytes(dir / "cut.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  std::vector<uint8_t> scrambled = png;
  for (size_t i = 40; i < scrambled.size() - 12; ++i) scrambled[i] ^= 0x5A;  // data, not IEND
  write_bytes(dir / "scrambled.png", scrambled);

  const struct {
    const char* name;
    const char* reason;
  } cases[] = {{"missing.png", "cannot open the file"},
               {"empty.png", "empty file"},
               {"text.jpg", "not a PNG, JPEG, BMP, WebP, TIFF or PNM image"},
               {"cut.png", "PNG cut short"},
               {"scrambled.png", "PNG damaged: chunk "}};
  for (const auto& bad : cases) {
    const std::string message = error_message([&] { decode_image(dir / bad.name, 3); });
    EXPECT_EQ(message.rfind(dir / bad.name + ": " + bad.reason, 0), 0u) << message;
  }
}

}  // namespace
}  // namespace moevit
