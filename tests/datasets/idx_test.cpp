#include "datasets/idx.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "tests/support/test_files.h"

namespace moevit {
namespace {
namespace fs = std::filesystem;

using namespace testing;  // moevit::testing, tests/support/test_files.h

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& sizes,
                               const std::vector<uint8_t>& data) {
  std::vector<uint32_t> words = {magic};
  words.insert(words.end(), sizes.begin(), sizes.end());
  std::vector<uint8_t> bytes;
  for (uint32_t word : words)  // big-endian, as IDX stores them
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<uint8_t>(word >> shift));
  bytes.insert(bytes.end(), data.begin(), data.end());
  return bytes;
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  gzclose(file);
}

// Three 2×3 images: image i holds 10·i + pixel position; labels 2, 0, 2.
const std::vector<uint8_t> kPixels = {0,  1,  2,  3,  4,  5,  10, 11, 12,
                                      13, 14, 15, 20, 21, 22, 23, 24, 25};
const std::vector<uint8_t> kLabels = {2, 0, 2};
const std::vector<std::string> kNames = {"zero", "one", "two"};

struct IdxPair {
  std::string images;
  std::string labels;
};

IdxPair write_pair(const TempDir& dir, bool gzip) {
  const IdxPair pair{dir / (gzip ? "images.gz" : "images.idx"),
                     dir / (gzip ? "labels.gz" : "labels.idx")};
  const std::vector<uint8_t> images = idx_bytes(kIdxImagesMagic, {3, 2, 3}, kPixels);
  const std::vector<uint8_t> labels = idx_bytes(kIdxLabelsMagic, {3}, kLabels);
  if (gzip) {
    write_gzip(pair.images, images);
    write_gzip(pair.labels, labels);
  } else {
    write_bytes(pair.images, images);
    write_bytes(pair.labels, labels);
  }
  return pair;
}

TEST(Idx, ReadsRawAndGzip) {
  TempDir dir;
  for (bool gzip : {false, true}) {
    const IdxPair pair = write_pair(dir, gzip);
    const IdxImages images = read_idx_images(pair.images);
    EXPECT_EQ(images.count, 3);
    EXPECT_EQ(images.rows, 2);
    EXPECT_EQ(images.cols, 3);
    EXPECT_EQ(images.pixels, kPixels);
    EXPECT_EQ(read_idx_labels(pair.labels), kLabels);
  }
}

TEST(Idx, ConvertsToClassFoldersOfPngs) {
  TempDir dir;
  for (bool gzip : {false, true}) {
    const IdxPair pair = write_pair(dir, gzip);
    const std::string out = dir / (gzip ? "out_gz" : "out_raw");
    const IdxConversion conversion =
        convert_idx_to_folder(pair.images, pair.labels, kNames, out, "train");
    EXPECT_EQ(conversion.split_dir, out + "/train");
    EXPECT_EQ(conversion.images, 3);
    EXPECT_FALSE(conversion.already_complete);
    const struct {
      const char* file;
      int image;
    } expected[] = {{"train/two/0.png", 0}, {"train/zero/1.png", 1}, {"train/two/2.png", 2}};
    for (const auto& png : expected) {
      const cv::Mat image = cv::imread(out + "/" + png.file, cv::IMREAD_UNCHANGED);
      ASSERT_FALSE(image.empty()) << png.file;
      ASSERT_EQ(image.type(), CV_8UC1);
      ASSERT_EQ(image.rows, 2);
      ASSERT_EQ(image.cols, 3);
      for (int p = 0; p < 6; ++p)
        EXPECT_EQ(image.at<uint8_t>(p / 3, p % 3), kPixels[png.image * 6 + p]) << png.file;
    }
    EXPECT_TRUE(fs::is_directory(out + "/train/one"));  // a class without images still exists
    EXPECT_TRUE(fs::exists(out + "/train/.complete"));
  }
}

TEST(Idx, IndicesAreZeroPaddedToTheLastIndex) {
  TempDir dir;
  write_bytes(dir / "images", idx_bytes(kIdxImagesMagic, {12, 1, 1}, std::vector<uint8_t>(12, 7)));
  write_bytes(dir / "labels", idx_bytes(kIdxLabelsMagic, {12}, std::vector<uint8_t>(12, 0)));
  convert_idx_to_folder(dir / "images", dir / "labels", {"only"}, dir / "out", "val");
  EXPECT_TRUE(fs::exists(dir / "out/val/only/00.png"));
  EXPECT_TRUE(fs::exists(dir / "out/val/only/11.png"));
}

TEST(Idx, SecondRunDoesNothingUnlessTheNamesChange) {
  TempDir dir;
  const IdxPair pair = write_pair(dir, /*gzip=*/true);
  convert_idx_to_folder(pair.images, pair.labels, kNames, dir / "out", "train");
  const std::string png = dir / "out/train/zero/1.png";
  write_bytes(png, {'x'});  // would be overwritten by a second conversion
  EXPECT_TRUE(convert_idx_to_folder(pair.images, pair.labels, kNames, dir / "out", "train")
                  .already_complete);
  EXPECT_EQ(fs::file_size(png), 1u);

  const std::vector<std::string> renamed = {"zero", "one", "deux"};
  EXPECT_FALSE(convert_idx_to_folder(pair.images, pair.labels, renamed, dir / "out", "train")
                   .already_complete);
  EXPECT_GT(fs::file_size(png), 1u);
  EXPECT_TRUE(fs::exists(dir / "out/train/deux/0.png"));
}

TEST(Idx, BadFilesAreRefusedNamingTheFile) {
  TempDir dir;
  const IdxPair pair = write_pair(dir, /*gzip=*/false);
  // Labels given as images: the magic number tells.
  const std::string swapped = error_message([&] { read_idx_images(pair.labels); });
  EXPECT_EQ(swapped, pair.labels +
                         ": expected an IDX images file (magic number 0x00000803), got magic "
                         "number 0x00000801");

  write_bytes(dir / "short", idx_bytes(kIdxImagesMagic, {3, 2, 3}, {1, 2, 3}));
  EXPECT_EQ(error_message([&] { read_idx_images(dir / "short"); }),
            dir / "short" + ": IDX pixels: expected 18 bytes, the file ends after 3");

  write_bytes(dir / "long", idx_bytes(kIdxLabelsMagic, {2}, {1, 2, 3}));
  EXPECT_NE(error_message([&] { read_idx_labels(dir / "long"); }).find(dir / "long" + ": "),
            std::string::npos);

  write_bytes(dir / "header", {0, 0, 8});
  EXPECT_THROW(read_idx_labels(dir / "header"), std::runtime_error);
  EXPECT_THROW(read_idx_labels(dir / "missing"), std::runtime_error);

  write_bytes(dir / "two_labels", idx_bytes(kIdxLabelsMagic, {2}, {0, 1}));
  const std::string mismatch = error_message(
      [&] { convert_idx_to_folder(pair.images, dir / "two_labels", kNames, dir / "out", "x"); });
  EXPECT_EQ(mismatch.rfind(dir / "two_labels" + ": expected 3 labels", 0), 0u) << mismatch;

  const std::string unnamed = error_message([&] {
    convert_idx_to_folder(pair.images, pair.labels, {"a", "b"}, dir / "out", "x");
  });
  EXPECT_EQ(unnamed.rfind(pair.labels + ": label 2 of image 0: expected < 2", 0), 0u) << unnamed;
  EXPECT_THROW(convert_idx_to_folder(pair.images, pair.labels, {"a", "b/c", "d"}, dir / "out", "x"),
               std::invalid_argument);
}

// Found by reading for the fuzz target (fuzz/fuzz_idx.cpp): a header of 0 images of
// (2^32-1)×(2^32-1) passed the 16 GiB check, and rows·cols overflowed int64 in
// convert_idx_to_folder; a side of 0 made empty PNGs that OpenCV refuses to write.
TEST(Idx, ImageSidesOutsideAnIntAreRefused) {
  TempDir dir;
  write_bytes(dir / "huge_sides", idx_bytes(kIdxImagesMagic, {0, 0xFFFFFFFF, 0xFFFFFFFF}, {}));
  EXPECT_EQ(error_message([&] { read_idx_images(dir / "huge_sides"); }),
            dir / "huge_sides" +
                ": IDX image size 4294967295x4294967295: expected sides in [1, 2147483647]");
  write_bytes(dir / "no_rows", idx_bytes(kIdxImagesMagic, {2, 0, 3}, {}));
  EXPECT_EQ(error_message([&] { read_idx_images(dir / "no_rows"); }),
            dir / "no_rows" + ": IDX image size 0x3: expected sides in [1, 2147483647]");
  // No images of a valid size is an empty data set, not an error.
  write_bytes(dir / "empty", idx_bytes(kIdxImagesMagic, {0, 28, 28}, {}));
  EXPECT_EQ(read_idx_images(dir / "empty").count, 0);
}

// A header that claims 16 GiB (the limit) of pixels in a 16-byte file is refused at the file's
// end, naming the claim and what the file holds; the reader grows its buffer with the data
// instead of allocating the claim first (fuzz/corpus/idx/regress-claims-16gib replays it).
TEST(Idx, AClaimLargerThanTheFileIsRefusedAtItsEnd) {
  TempDir dir;
  write_bytes(dir / "claim", idx_bytes(kIdxImagesMagic, {1u << 14, 1u << 10, 1u << 10}, {7}));
  EXPECT_EQ(error_message([&] { read_idx_images(dir / "claim"); }),
            dir / "claim" + ": IDX pixels: expected 17179869184 bytes, the file ends after 1");
  write_bytes(dir / "labels", idx_bytes(kIdxLabelsMagic, {0xFFFFFFFF}, {1, 2}));
  EXPECT_EQ(error_message([&] { read_idx_labels(dir / "labels"); }),
            dir / "labels" + ": IDX labels: expected 4294967295 bytes, the file ends after 2");
}

TEST(Idx, FashionMnistFromASourceFolder) {
  EXPECT_EQ(fashion_mnist_class_names().size(), 10u);
  EXPECT_EQ(fashion_mnist_class_names().front(), "T-shirt_top");
  EXPECT_EQ(fashion_mnist_class_names().back(), "Ankle_boot");

  TempDir dir;
  for (const char* prefix : {"train", "t10k"}) {
    write_gzip(dir / (std::string(prefix) + "-images-idx3-ubyte.gz"),
               idx_bytes(kIdxImagesMagic, {3, 2, 3}, kPixels));
    write_bytes(dir / (std::string(prefix) + "-labels-idx1-ubyte"),  // raw works too
                idx_bytes(kIdxLabelsMagic, {3}, {9, 0, 9}));
  }
  const std::vector<IdxConversion> conversions = prepare_fashion_mnist(dir.path(), dir / "fm");
  ASSERT_EQ(conversions.size(), 2u);
  EXPECT_EQ(conversions[0].split_dir, dir / "fm/train");
  EXPECT_EQ(conversions[1].split_dir, dir / "fm/val");
  EXPECT_TRUE(fs::exists(dir / "fm/val/Ankle_boot/2.png"));
  EXPECT_TRUE(fs::exists(dir / "fm/train/T-shirt_top/1.png"));
  EXPECT_THROW(prepare_fashion_mnist(dir / "nowhere", dir / "fm2"), std::invalid_argument);
}

}  // namespace
}  // namespace moevit
