#include "app/figures/curves.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace moevit {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

// A metrics.jsonl record as app/train/training.cpp writes it; one routing entry per dropped rate,
// for blocks 1, 3, 5, ...
nlohmann::json epoch_record(int epoch, double train_loss, double val_loss, double top1, double top5,
                            const std::vector<double>& dropped) {
  nlohmann::json routing = nlohmann::json::array();
  for (size_t layer = 0; layer < dropped.size(); ++layer)
    routing.push_back({{"block", 2 * layer + 1},
                       {"load_share_min", 0.08},
                       {"load_share_max", 0.2},
                       {"load_cv", 0.3},
                       {"dropped_fraction", dropped[layer]},
                       {"tokens_unprocessed_fraction", dropped[layer] / 2}});
  return {{"epoch", epoch},
          {"step", 469 * epoch},
          {"train_loss", train_loss},
          {"train_aux_loss", 0.01},
          {"lr", 0.001},
          {"train_images", 60000},
          {"train_images_per_s", 800.0},
          {"epoch_seconds", 80.0},
          {"val",
           {{"top1", top1},
            {"top5", top5},
            {"loss", val_loss},
            {"images", 10000},
            {"images_per_s", 3000.0},
            {"routing", routing}}}};
}

std::vector<nlohmann::json> three_moe_epochs() {
  return {epoch_record(1, 1.23, 0.81, 0.71, 0.95, {0.12, 0.05}),
          epoch_record(2, 0.64, 0.52, 0.82, 0.98, {0.08, 0.04}),
          epoch_record(3, 0.41, 0.45, 0.86, 0.99, {0.06, 0.035})};
}

// A fresh run folder per test, removed afterwards.
class Curves : public ::testing::Test {
 protected:
  void SetUp() override {
    run_dir_ = fs::temp_directory_path() /
               ("moevit-curves-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(run_dir_);
    fs::create_directories(run_dir_);
  }
  void TearDown() override { fs::remove_all(run_dir_); }

  std::string metrics_path() const { return (run_dir_ / "metrics.jsonl").string(); }
  std::string png_path() const { return (run_dir_ / "curves.png").string(); }

  void write_metrics_text(const std::string& text) const { std::ofstream(metrics_path()) << text; }
  void write_metrics(const std::vector<nlohmann::json>& records) const {
    std::string text;
    for (const nlohmann::json& record : records) text += record.dump() + "\n";
    write_metrics_text(text);
  }

  // plot_run, checking what any successful call must give: the path, a PNG of the documented
  // size, no temporary file left.
  cv::Mat plot() const {
    EXPECT_EQ(plot_run(run_dir_.string()), png_path());
    EXPECT_FALSE(fs::exists(png_path() + ".tmp"));
    const cv::Mat image = cv::imread(png_path(), cv::IMREAD_COLOR);
    EXPECT_EQ(image.rows, kCurvesHeight);
    EXPECT_EQ(image.cols, kCurvesWidth);
    return image;
  }

  fs::path run_dir_;
};

// Panel 0 (loss), 1 (accuracy) or 2 (drop rate) of the image.
cv::Mat panel(const cv::Mat& image, int index) {
  return image.rowRange(kCurvesTitleBandHeight + index * kCurvesPanelHeight,
                        kCurvesTitleBandHeight + (index + 1) * kCurvesPanelHeight);
}

int pixels_of(const cv::Mat& image, BgrColour colour) {
  int count = 0;
  for (int row = 0; row < image.rows; ++row)
    for (int column = 0; column < image.cols; ++column) {
      const cv::Vec3b pixel = image.at<cv::Vec3b>(row, column);
      count += pixel == cv::Vec3b(colour.blue, colour.green, colour.red);
    }
  return count;
}

// Pixels that are not grey (ink, anti-aliasing and white are).
int coloured_pixels(const cv::Mat& image) {
  int count = 0;
  for (auto pixel = image.begin<cv::Vec3b>(); pixel != image.end<cv::Vec3b>(); ++pixel) {
    const auto [low, high] = std::minmax({(*pixel)[0], (*pixel)[1], (*pixel)[2]});
    count += high - low > 30;
  }
  return count;
}

// The message of the exception `call` throws ("(no exception)" and a test failure if none).
std::string message_of(const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "(no exception)";
}

TEST_F(Curves, ThreeEpochsTwoMoeLayersFillEveryPanel) {
  write_metrics(three_moe_epochs());
  const cv::Mat image = plot();

  std::set<uint32_t> colours;
  for (auto pixel = image.begin<cv::Vec3b>(); pixel != image.end<cv::Vec3b>(); ++pixel)
    colours.insert((*pixel)[0] << 16 | (*pixel)[1] << 8 | (*pixel)[2]);
  EXPECT_GT(colours.size(), 20u);  // not blank: lines, markers, text and their anti-aliasing

  // Each series' colour (marker fills are exact) in its own panel, and in no other.
  EXPECT_GT(pixels_of(panel(image, 0), kTrainLossColour), 50);
  EXPECT_GT(pixels_of(panel(image, 0), kValLossColour), 50);
  EXPECT_GT(pixels_of(panel(image, 1), kValTop1Colour), 50);
  EXPECT_GT(pixels_of(panel(image, 1), kValTop5Colour), 50);
  EXPECT_EQ(pixels_of(panel(image, 0), kValTop1Colour), 0);
  EXPECT_EQ(pixels_of(panel(image, 2), kValTop1Colour), 0);
  EXPECT_GT(pixels_of(panel(image, 2), moe_layer_colour(0)), 50);
  EXPECT_GT(pixels_of(panel(image, 2), moe_layer_colour(1)), 50);
  EXPECT_NE(moe_layer_colour(0).red, moe_layer_colour(1).red);
}

TEST_F(Curves, MovingAverageAccuracyIsDrawnOnlyWhenLogged) {
  write_metrics(three_moe_epochs());
  EXPECT_EQ(pixels_of(plot(), kValTop1EmaColour), 0);
  std::vector<nlohmann::json> records = three_moe_epochs();
  for (nlohmann::json& record : records) {
    record["val_ema"] = record["val"];
    record["val_ema"]["top1"] = record["val"]["top1"].get<double>() + 0.02;
  }
  write_metrics(records);
  const cv::Mat image = plot();
  EXPECT_GT(pixels_of(panel(image, 1), kValTop1EmaColour), 50);
  EXPECT_GT(pixels_of(panel(image, 1), kValTop1Colour), 50);
}

TEST_F(Curves, DenseModelLeavesTheDropPanelWithoutLines) {
  write_metrics(
      {epoch_record(1, 1.0, 0.9, 0.7, 0.9, {}), epoch_record(2, 0.8, 0.7, 0.8, 0.95, {})});
  const cv::Mat image = plot();
  EXPECT_GT(pixels_of(panel(image, 1), kValTop1Colour), 50);
  EXPECT_EQ(coloured_pixels(panel(image, 2)), 0);  // grey note and frame only
}

TEST_F(Curves, OneEpochIsDrawnAsMarkers) {
  write_metrics({epoch_record(1, 1.23, 0.81, 0.71, 0.95, {0.12, 0.05})});
  const cv::Mat image = plot();
  EXPECT_GT(pixels_of(panel(image, 0), kTrainLossColour), 20);
  EXPECT_GT(pixels_of(panel(image, 1), kValTop1Colour), 20);
  EXPECT_GT(pixels_of(panel(image, 2), moe_layer_colour(1)), 20);
}

TEST_F(Curves, ConstantSeriesGetAnAxisAroundThem) {
  // Soft routing drops nothing; accuracy pinned at 100 %; a flat loss.
  write_metrics({epoch_record(1, 0.5, 0.5, 1.0, 1.0, {0, 0}),
                 epoch_record(2, 0.5, 0.5, 1.0, 1.0, {0, 0}),
                 epoch_record(3, 0.5, 0.5, 1.0, 1.0, {0, 0})});
  const cv::Mat image = plot();
  EXPECT_GT(pixels_of(panel(image, 0), kValLossColour), 50);
  EXPECT_GT(pixels_of(panel(image, 1), kValTop5Colour), 50);
  EXPECT_GT(pixels_of(panel(image, 2), moe_layer_colour(1)), 50);
}

TEST_F(Curves, NullValuesAndRepeatedEpochsAreDrawn) {
  // A resumed run re-appends epoch 2; NaN is logged as null.
  std::vector<nlohmann::json> records = three_moe_epochs();
  records.insert(records.begin() + 2, epoch_record(2, 0.6, 0.5, 0.83, 0.98, {0.07, 0.04}));
  records[0]["val"]["loss"] = nullptr;
  write_metrics(records);
  const cv::Mat image = plot();
  EXPECT_GT(pixels_of(panel(image, 0), kValLossColour), 50);
}

TEST_F(Curves, WriteCurvesPngCreatesTheFolder) {
  const std::string path = (run_dir_ / "nested" / "plot.png").string();
  write_curves_png(three_moe_epochs(), path, "direct");
  EXPECT_EQ(cv::imread(path).cols, kCurvesWidth);
}

TEST_F(Curves, RefusesNoRecordsNamingTheFile) {
  write_metrics_text("\n");
  EXPECT_THROW(plot_run(run_dir_.string()), std::invalid_argument);
  EXPECT_THAT(message_of([&] { plot_run(run_dir_.string()); }), HasSubstr(metrics_path()));
  EXPECT_FALSE(fs::exists(png_path()));
  EXPECT_THAT(message_of([&] { write_curves_png({}, png_path(), "empty"); }),
              HasSubstr(png_path()));
}

TEST_F(Curves, RefusesAMissingFileNamingIt) {
  EXPECT_THROW(plot_run(run_dir_.string()), std::invalid_argument);
  EXPECT_THAT(message_of([&] { plot_run(run_dir_.string()); }), HasSubstr(metrics_path()));
}

TEST_F(Curves, RefusesAMalformedLineNamingFileAndLine) {
  write_metrics_text(three_moe_epochs()[0].dump() + "\n{\"epoch\": 2, \"train_loss\n");
  EXPECT_THROW(plot_run(run_dir_.string()), std::runtime_error);
  EXPECT_THAT(message_of([&] { plot_run(run_dir_.string()); }), HasSubstr(metrics_path() + ":2"));
  EXPECT_FALSE(fs::exists(png_path()));
}

TEST_F(Curves, RefusesARecordMissingAFieldNamingFileAndField) {
  for (const std::string field : {"epoch", "train_loss", "val"}) {
    std::vector<nlohmann::json> records = three_moe_epochs();
    records[1].erase(field);
    write_metrics(records);
    EXPECT_THROW(plot_run(run_dir_.string()), std::invalid_argument) << field;
    const std::string message = message_of([&] { plot_run(run_dir_.string()); });
    EXPECT_THAT(message, HasSubstr(metrics_path() + ": record 2"));
    EXPECT_THAT(message, HasSubstr("\"" + field + "\""));
  }
  std::vector<nlohmann::json> records = three_moe_epochs();
  records[2]["train_loss"] = "low";
  write_metrics(records);
  EXPECT_THAT(message_of([&] { plot_run(run_dir_.string()); }),
              HasSubstr(metrics_path() + ": record 3: \"train_loss\": expected a number"));
}

#ifdef MOEVIT_BINARY
TEST_F(Curves, PlotCommandPrintsThePathWritten) {
  write_metrics(three_moe_epochs());
  const std::string command = std::string(MOEVIT_BINARY) + " plot " + run_dir_.string();
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  for (char buffer[256]; fgets(buffer, sizeof buffer, pipe);) output += buffer;
  EXPECT_EQ(pclose(pipe), 0);
  EXPECT_EQ(output, png_path() + "\n");
  EXPECT_TRUE(fs::exists(png_path()));
}
#endif

}  // namespace
}  // namespace moevit
