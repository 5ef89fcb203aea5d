// moevit classify: the library pieces (file listing, top predictions) on constructed inputs,
// then the command end to end on a tiny model trained once for the suite.
#include "app/eval/classification.h"

#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "app/run/image_files.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::run_command;
using testing::TempDir;

const std::string kMoevit = MOEVIT_BINARY;

cv::Mat grey_square(int side, uint8_t level) {
  return cv::Mat(side, side, CV_8UC1, level);
}

// A noise-free 8×8 texture of the training classes (make_texture_folders adds noise).
cv::Mat clean_texture(const std::string& name) {
  cv::Mat image(8, 8, CV_8UC1);
  for (int row = 0; row < 8; ++row)
    for (int column = 0; column < 8; ++column) {
      const bool on = name == "checker"      ? (row + column) % 2
                      : name == "horizontal" ? row % 2
                                             : column % 2;
      image.at<uint8_t>(row, column) = on ? 200 : 50;
    }
  return image;
}

TEST(ClassifyFiles, FoldersAreSearchedRecursivelyForImagesInSortedOrder) {
  TempDir dir;
  testing::write_image(dir / "in/b/deep/er/z.png", grey_square(8, 10));
  testing::write_image(dir / "in/a.JPG", grey_square(8, 10));
  testing::write_image(dir / "in/b/m.bmp", grey_square(8, 10));
  testing::write_text(dir / "in/notes.txt", "not an image");
  testing::write_image(dir / "in/.cache/hidden.png", grey_square(8, 10));
  testing::write_image(dir / "single.png", grey_square(8, 10));
  const std::vector<std::string> files =
      list_image_files({dir / "single.png", dir / "in", dir / "missing.png"});
  EXPECT_EQ(files, (std::vector<std::string>{dir / "single.png", dir / "in/a.JPG",
                                             dir / "in/b/deep/er/z.png", dir / "in/b/m.bmp",
                                             dir / "missing.png"}));
  std::filesystem::create_directories(dir / "empty");
  EXPECT_NE(testing::error_message([&] {
              list_image_files({dir / "empty"});
            }).find(dir / "empty" + ": no image files"),
            std::string::npos);
}

TEST(ClassifyFiles, TopPredictionsAreFloatSoftmaxBestFirst) {
  // softmax(0, ln 2, ln 5) = (1, 2, 5) / 8.
  const torch::Tensor logits =
      torch::tensor({0.0, std::log(2.0), std::log(5.0)}, torch::kBFloat16).view({1, 3});
  const auto top =
      top_predictions(torch::tensor({{0.0f, std::log(2.0f), std::log(5.0f)}}), {"a", "b", "c"}, 2);
  ASSERT_EQ(top.size(), 1u);
  ASSERT_EQ(top[0].size(), 2u);
  EXPECT_EQ(top[0][0].label, "c");
  EXPECT_NEAR(top[0][0].probability, 5.0 / 8, 1e-6);
  EXPECT_EQ(top[0][1].label, "b");
  EXPECT_NEAR(top[0][1].probability, 2.0 / 8, 1e-6);
  EXPECT_EQ(top_predictions(logits, {"a", "b", "c"}, 10)[0].size(), 3u);  // k capped at classes
  EXPECT_NE(testing::error_message([&] {
              top_predictions(logits, {"a", "b"}, 1);
            }).find("expected logits [B, 2]"),
            std::string::npos);
}

// One tiny top-k model for the suite: 8×8 textures learn in a few epochs.
class ClassifyCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    testing::make_texture_folders(*dir_ / "data", 16, 4);
    testing::write_text(*dir_ / "tiny.yaml",
                        testing::tiny_config_yaml(*dir_ / "data", *dir_ / "run", "topk", 5));
    const auto trained = run_command(kMoevit + " train --config " + (*dir_ / "tiny.yaml"));
    ASSERT_EQ(trained.exit_code, 0) << trained.output;
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string classify(const std::string& arguments) {
    return kMoevit + " classify --checkpoint " + (*dir_ / "run/last.pt") + " " + arguments;
  }

  static TempDir* dir_;
};

TempDir* ClassifyCli::dir_ = nullptr;

TEST_F(ClassifyCli, JsonParsesAndEachImagesProbabilitiesSumToOne) {
  const auto result = run_command(classify("--json --top 3 " + (*dir_ / "data/val")));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const nlohmann::json images = nlohmann::json::parse(result.output);
  ASSERT_EQ(images.size(), 12u);  // 3 class folders × 4, found by recursion
  for (const nlohmann::json& image : images) {
    ASSERT_EQ(image["top"].size(), 3u) << image.dump();
    double sum = 0;
    for (const nlohmann::json& prediction : image["top"])
      sum += prediction["probability"].get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-5) << image["file"];
    EXPECT_GE(image["top"][0]["probability"], image["top"][1]["probability"]);
  }
  EXPECT_EQ(images[0]["file"], *dir_ / "data/val/checker/0.png");
}

TEST_F(ClassifyCli, CleanTexturesGetTheirClassInTextOutput) {
  TempDir images;
  for (const std::string name : {"checker", "horizontal", "vertical"})
    testing::write_image(images / (name + ".png"), clean_texture(name));
  const auto result = run_command(classify("--top 2 " + images.path()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  // Blocks: the file, then "  0.9876  label" per class, best first; a blank line between.
  std::istringstream lines(result.output);
  for (const std::string name : {"checker", "horizontal", "vertical"}) {
    std::string file, best, second, blank;
    std::getline(lines, file);
    std::getline(lines, best);
    std::getline(lines, second);
    EXPECT_EQ(file, images / (name + ".png"));
    EXPECT_EQ(best.substr(0, 2), "  ") << best;
    double probability = 0;
    std::string label;
    std::istringstream(best) >> probability >> label;
    EXPECT_EQ(label, name) << result.output;
    EXPECT_GT(probability, 0.5) << result.output;
    EXPECT_EQ(best.find('.'), 3u) << best;  // "  0.xxxx"
    std::getline(lines, blank);
    EXPECT_TRUE(blank.empty()) << blank;
  }
}

TEST_F(ClassifyCli, ImagesOfAnySizeAndChannelsAreClassified) {
  TempDir images;
  cv::Mat colour(40, 30, CV_8UC3, cv::Scalar(20, 120, 220));
  testing::write_image(images / "colour.jpg", colour);
  cv::Mat deep(16, 16, CV_16UC1, cv::Scalar(40000));
  testing::write_image(images / "deep.png", deep);
  const auto result = run_command(classify("--json " + images.path()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(nlohmann::json::parse(result.output).size(), 2u);
}

TEST_F(ClassifyCli, CorruptFileIsReportedAndTheOthersStillClassified) {
  TempDir images;
  testing::write_image(images / "a_good.png", clean_texture("checker"));
  testing::write_text(images / "b_corrupt.png", "this is not a PNG at all");
  testing::write_image(images / "c_good.png", clean_texture("vertical"));
  // stderr to its own file: stdout must be exactly the JSON.
  const auto result = run_command("(" + classify("--json " + images.path()) + " 2>" +
                                  (images / "stderr.txt") + ")");
  EXPECT_EQ(result.exit_code, 1) << result.output;
  const nlohmann::json classified = nlohmann::json::parse(result.output);
  ASSERT_EQ(classified.size(), 2u);
  EXPECT_EQ(classified[0]["file"], images / "a_good.png");
  EXPECT_EQ(classified[1]["file"], images / "c_good.png");
  std::ifstream stderr_file(images / "stderr.txt");
  std::string line, extra;
  std::getline(stderr_file, line);
  EXPECT_EQ(line.rfind("moevit classify: error: " + (images / "b_corrupt.png") + ": ", 0), 0u)
      << line;
  EXPECT_FALSE(std::getline(stderr_file, extra)) << extra;  // one line per bad file
}

TEST_F(ClassifyCli, BadArgumentsAreRefusedInOneLine) {
  const auto no_top = run_command(classify("--top 0 " + (*dir_ / "data/val")));
  EXPECT_EQ(no_top.exit_code, 1);
  EXPECT_NE(no_top.output.find("--top: expected a number >= 1, got 0"), std::string::npos)
      << no_top.output;
  const auto no_paths = run_command(classify(""));
  EXPECT_EQ(no_paths.exit_code, 1);
  EXPECT_NE(no_paths.output.find("at least one image"), std::string::npos) << no_paths.output;
}

}  // namespace
}  // namespace moevit
