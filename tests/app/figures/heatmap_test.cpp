// moevit heatmap: the drawing on constructed assignments (no model), the plan → patch-grid
// reading on constructed plans, the expert-by-class counts, then the command end to end on tiny
// top-k and soft models trained once for the suite.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "app/figures/expert_by_class.h"
#include "app/figures/expert_palette.h"
#include "app/figures/heatmap_render.h"
#include "app/figures/heatmap_routing.h"
#include "moe/dispatch_plan.h"
#include "tests/app/run_fixtures.h"
#include "tests/support/test_files.h"

namespace moevit {
namespace {

using testing::run_command;
using testing::TempDir;

const std::string kMoevit = MOEVIT_BINARY;
const cv::Mat kGreyPicture(8, 8, CV_8UC3, cv::Scalar(128, 128, 128));

ExpertAssignment assignment_of(std::vector<int64_t> experts, std::vector<float> weights,
                               std::vector<uint8_t> dropped = {}) {
  ExpertAssignment assignment;
  assignment.patches_per_side = 2;
  assignment.num_experts = 4;
  assignment.expert = std::move(experts);
  assignment.weight = std::move(weights);
  assignment.dropped = std::move(dropped);
  return assignment;
}

// The pixels of one patch of a map, without the grid line along its top and left edges.
cv::Mat patch_pixels(const HeatmapFigure& figure, size_t map, int64_t patch, int patch_size) {
  const cv::Rect& grid = figure.maps[map];
  return figure.image(cv::Rect(grid.x + static_cast<int>(patch % 2) * patch_size + 1,
                               grid.y + static_cast<int>(patch / 2) * patch_size + 1,
                               patch_size - 2, patch_size - 2));
}

cv::Vec3b centre(const HeatmapFigure& figure, size_t map, int64_t patch, int patch_size) {
  const cv::Mat pixels = patch_pixels(figure, map, patch, patch_size);
  return pixels.at<cv::Vec3b>(pixels.rows / 2, pixels.cols / 2);
}

// Grey 128 washed towards white: 128 · 0.45 + 255 · 0.55 = 197.85.
constexpr double kWashedGrey = 198;

// What a tint of `colour` at `opacity` over the washed grey gives, as OpenCV rounds it.
cv::Vec3b tinted_grey(const cv::Scalar& colour, double opacity) {
  cv::Vec3b pixel;
  for (int channel = 0; channel < 3; ++channel)
    pixel[channel] =
        cv::saturate_cast<uint8_t>((1 - opacity) * kWashedGrey + opacity * colour[channel]);
  return pixel;
}

bool contains_colour(const cv::Mat& pixels, const cv::Scalar& colour) {
  for (int row = 0; row < pixels.rows; ++row)
    for (int column = 0; column < pixels.cols; ++column) {
      const cv::Vec3b pixel = pixels.at<cv::Vec3b>(row, column);
      if (pixel[0] == colour[0] && pixel[1] == colour[1] && pixel[2] == colour[2]) return true;
    }
  return false;
}

TEST(HeatmapRender, PatchesAreAtLeast16PixelsAndWholeMultiplesOfThePatch) {
  EXPECT_EQ(heatmap_patch_pixels(/*patches_per_side=*/7, /*patch_size=*/4), 32);  // 28×28
  EXPECT_EQ(heatmap_patch_pixels(14, 16), 16);                                    // 224×224
  EXPECT_EQ(heatmap_patch_pixels(24, 16), 16);                                    // 384×384
  EXPECT_EQ(heatmap_patch_pixels(4, 2), 56);                                      // 8×8
  EXPECT_EQ(heatmap_patch_pixels(7, 32), 32);  // never below the patch's own pixels
  EXPECT_EQ(heatmap_patch_pixels(2, 3), 114);  // 112 rounded up to a multiple of 3
}

TEST(HeatmapRender, PatchesOfDifferentExpertsGetTheirExpertsColours) {
  const int size = heatmap_patch_pixels(2, 4);
  const HeatmapFigure figure =
      render_expert_map(kGreyPicture, assignment_of({0, 1, 1, 0}, {1, 1, 1, 1}), size, {"t"});
  ASSERT_EQ(figure.maps.size(), 1u);
  EXPECT_EQ(figure.maps[0].size(), cv::Size(2 * size, 2 * size));
  // Gate 1 → opacity 0.4 + 0.5.
  EXPECT_EQ(centre(figure, 0, 0, size), tinted_grey(expert_colour(0), 0.9));
  EXPECT_EQ(centre(figure, 0, 1, size), tinted_grey(expert_colour(1), 0.9));
  EXPECT_NE(centre(figure, 0, 0, size), centre(figure, 0, 1, size));
  EXPECT_EQ(centre(figure, 0, 0, size), centre(figure, 0, 3, size));
}

TEST(HeatmapRender, GateSetsTheTintsOpacity) {
  const int size = 16;
  const HeatmapFigure figure =
      render_expert_map(kGreyPicture, assignment_of({2, 2, 2, 2}, {0, 1, 0.5, 0}), size, {"t"});
  EXPECT_EQ(centre(figure, 0, 0, size), tinted_grey(expert_colour(2), 0.4));
  EXPECT_EQ(centre(figure, 0, 2, size), tinted_grey(expert_colour(2), 0.65));
  EXPECT_EQ(centre(figure, 0, 1, size), tinted_grey(expert_colour(2), 0.9));
}

TEST(HeatmapRender, DroppedPatchIsGreyedAndHatchedUnlikeAKeptOneOfTheSameExpert) {
  const int size = 32;
  const HeatmapFigure figure = render_expert_map(
      kGreyPicture, assignment_of({3, 3, 3, 3}, {1, 1, 1, 1}, {0, 1, 0, 0}), size, {"t"});
  const cv::Mat kept = patch_pixels(figure, 0, 0, size), dropped = patch_pixels(figure, 0, 1, size);
  EXPECT_GT(cv::norm(kept, dropped, cv::NORM_L1), 0);
  // Kept: one tint all over. Dropped: faded grey with hatch lines in the expert's colour.
  EXPECT_FALSE(contains_colour(kept, expert_colour(3)));
  EXPECT_TRUE(contains_colour(dropped, expert_colour(3)));
  EXPECT_TRUE(contains_colour(dropped, cv::Scalar(182, 182, 182)));  // 0.3·198 + 0.7·175
  EXPECT_FALSE(contains_colour(dropped, cv::Scalar(tinted_grey(expert_colour(3), 0.9))));
}

TEST(HeatmapRender, BadAssignmentIsRefusedNamingWhatWasExpected) {
  EXPECT_NE(testing::error_message([] {
              render_expert_map(kGreyPicture, assignment_of({0, 1, 2}, {1, 1, 1}), 16, {});
            }).find("of 4 patches"),
            std::string::npos);
  EXPECT_NE(testing::error_message([] {
              render_expert_map(kGreyPicture, assignment_of({0, 1, 2, 4}, {1, 1, 1, 1}), 16, {});
            }).find("expert id 4 outside [0, 4)"),
            std::string::npos);
}

TEST(HeatmapRender, OneDispatchPanelPerExpertOnOneSharedScale) {
  const int size = 20;
  const std::vector<std::vector<float>> weights = {
      {0.1f, 0.1f, 0.1f, 0.1f},  // expert 0: low everywhere
      {0.0f, 0.0f, 0.0f, 0.4f},  // expert 1: the largest weight, in patch 3
      {0.4f, 0.4f, 0.4f, 0.4f},  // expert 2: as high as that everywhere
      {0.0f, 0.0f, 0.0f, 0.0f},  // the smallest: the bottom of the scale
      {0.2f, 0.0f, 0.0f, 0.0f}};
  const HeatmapFigure figure = render_dispatch_panels(kGreyPicture, 2, weights, size, {"t"});
  ASSERT_EQ(figure.maps.size(), 5u);
  for (const cv::Rect& panel : figure.maps) EXPECT_EQ(panel.size(), cv::Size(2 * size, 2 * size));
  // One scale for all panels: equal weights, equal colours, whichever expert.
  EXPECT_EQ(centre(figure, 2, 0, size), centre(figure, 1, 3, size));
  EXPECT_EQ(centre(figure, 3, 0, size), centre(figure, 1, 0, size));
  EXPECT_NE(centre(figure, 0, 0, size), centre(figure, 2, 0, size));
  EXPECT_NE(centre(figure, 4, 0, size), centre(figure, 4, 1, size));
  EXPECT_NE(testing::error_message([&] {
              render_dispatch_panels(kGreyPicture, 3, weights, size, {});
            }).find("expected 9 weights per expert, got 4"),
            std::string::npos);
}

TEST(HeatmapPalette, SixteenDistinctColoursThenItCycles) {
  std::set<std::vector<double>> colours;
  for (int64_t expert = 0; expert < kExpertPaletteSize; ++expert) {
    const cv::Scalar colour = expert_colour(expert);
    colours.insert({colour[0], colour[1], colour[2]});
  }
  EXPECT_EQ(colours.size(), 16u);
  EXPECT_EQ(expert_colour(16), expert_colour(0));
  EXPECT_EQ(expert_colour(21), expert_colour(5));
}

TEST(HeatmapRouting, TokenChoicePlanMapsOntoEachImagesPatchesWithoutTheClassToken) {
  // One group of 2 images × (class token + 4 patches), K = 2, capacity 2. The gates rise with
  // the choice here, so where both choices were processed the second (larger gate) is shown.
  const torch::Tensor expert_index =
      torch::tensor({0, 1, 2, 3, 1, 0, 2, 0, 3, 1, 0, 2, 1, 3, 1, 2, 3, 0, 0, 1}).view({1, 10, 2});
  const torch::Tensor slot_index =
      torch::tensor({0, 0, 0, 0, 0, 0, 1, 1, 2, 1, 1, 0, 1, 1, 2, 2, 3, 1, 2, 3}).view({1, 10, 2});
  const torch::Tensor gate = torch::linspace(0.05, 0.95, 20).view({1, 10, 2});
  const DispatchPlan plan = make_token_choice_plan(expert_index, slot_index, gate, gate,
                                                   /*num_experts=*/4, /*capacity=*/2);
  const PatchExperts experts = patch_experts(plan, /*batch_size=*/2, /*leading_tokens=*/1);
  EXPECT_FALSE(experts.soft);
  // The processed choice of the largest gate, or the first choice where neither was processed
  // (image 1's patches 1 and 3: slots 2 and 2, 2 and 3, both over capacity).
  EXPECT_TRUE(torch::equal(experts.expert, torch::tensor({{3, 0, 0, 1}, {3, 1, 0, 0}})));
  EXPECT_TRUE(torch::equal(
      experts.dropped, torch::tensor({{false, false, false, false}, {false, true, false, true}})));
  const torch::Tensor shown_choice = torch::tensor({{1, 1, 1, 1}, {1, 0, 1, 0}}, torch::kLong);
  EXPECT_TRUE(torch::allclose(
      experts.weight,
      gate.view({2, 5, 2}).narrow(1, 1, 4).gather(2, shown_choice.unsqueeze(2)).squeeze(2)));
  EXPECT_TRUE(torch::equal(experts.experts_per_patch,
                           torch::tensor({{2, 2, 2, 1}, {2, 0, 1, 0}}, torch::kLong)));

  const ExpertAssignment second = image_assignment(experts, 1, /*patches_per_side=*/2);
  EXPECT_EQ(second.expert, (std::vector<int64_t>{3, 1, 0, 0}));
  EXPECT_EQ(second.dropped, (std::vector<uint8_t>{0, 1, 0, 1}));
  EXPECT_EQ(second.experts_per_patch, (std::vector<int64_t>{2, 0, 1, 0}));
  EXPECT_EQ(second.num_experts, 4);
  EXPECT_NE(testing::error_message([&] { image_assignment(experts, 0, 3); }).find("not a grid"),
            std::string::npos);
}

TEST(HeatmapRouting, SoftPlanTakesTheExpertOfTheLargestCombineWeightSummedOverItsSlots) {
  // Two groups of one image, 4 patches, E = 2 experts × C = 2 slots (expert-major slots).
  torch::Tensor combine = torch::tensor({0.3, 0.3, 0.4, 0.0,    // expert 0: 0.6 beats 0.4
                                         0.1, 0.1, 0.5, 0.3,    // expert 1: 0.8
                                         0.3, 0.25, 0.25, 0.2,  // expert 0: 0.55
                                         0.0, 1.0, 0.0, 0.0},
                                        torch::kFloat)
                              .view({1, 4, 4})
                              .repeat({2, 1, 1});
  combine[1] = combine[1].flip(0);  // the second image: patches reversed
  const torch::Tensor dispatch = torch::full({2, 4, 4}, 0.25);
  const DispatchPlan plan = make_soft_plan(dispatch, combine, /*num_experts=*/2,
                                           /*slots_per_expert=*/2);
  const PatchExperts experts = patch_experts(plan, /*batch_size=*/2, /*leading_tokens=*/0);
  EXPECT_TRUE(experts.soft);
  EXPECT_TRUE(torch::equal(experts.expert, torch::tensor({{0, 1, 0, 0}, {0, 0, 1, 0}})));
  EXPECT_TRUE(torch::allclose(
      experts.weight, torch::tensor({{0.6f, 0.8f, 0.55f, 1.0f}, {1.0f, 0.55f, 0.8f, 0.6f}})));
  EXPECT_FALSE(experts.dropped.any().item<bool>());
  ASSERT_EQ(experts.dispatch.sizes(), (std::vector<int64_t>{2, 2, 4}));
  EXPECT_TRUE(torch::allclose(experts.dispatch, torch::full({2, 2, 4}, 0.5)));
  const std::vector<std::vector<float>> maps = image_dispatch_maps(experts, 1);
  ASSERT_EQ(maps.size(), 2u);
  EXPECT_EQ(maps[1], (std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f}));
  EXPECT_TRUE(image_assignment(experts, 0, 2).dropped.empty());
}

TEST(HeatmapExpertByClass, SharesPerClassRowSumToOneAndTheCsvNamesExperts) {
  PatchExperts experts;
  experts.num_experts = 3;
  experts.expert = torch::tensor({{0, 0, 1, 2}, {2, 2, 2, 2}, {1, 1, 1, 0}});
  ExpertByClass matrix(/*block=*/5, /*soft=*/false, /*num_classes=*/3, /*num_experts=*/3);
  matrix.add(experts, torch::tensor({0, 0, 2}));
  EXPECT_TRUE(torch::equal(matrix.counts, torch::tensor({{2, 1, 5}, {0, 0, 0}, {1, 3, 0}})));
  EXPECT_EQ(expert_by_class_csv(matrix, {"a", "b,c", "d"}),
            "class,0,1,2\n"
            "a,0.250000,0.125000,0.625000\n"
            "\"b,c\",0.000000,0.000000,0.000000\n"  // no patches of this class
            "d,0.250000,0.750000,0.000000\n");
  const cv::Mat figure = render_expert_by_class({matrix, matrix}, {"a", "b,c", "d"});
  EXPECT_GT(figure.rows, 2 * 3 * 20);
}

std::vector<std::vector<std::string>> read_csv(const std::string& path) {
  std::ifstream file(path);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(file, line);) {
    std::vector<std::string> fields;
    std::istringstream items(line);
    for (std::string field; std::getline(items, field, ',');) fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

// Tiny top-k and soft models for the suite (depth 2, MoE in block 1, 4 experts, 8×8 images of
// 2×2 patches: a 4×4 grid of 56-pixel patches).
class HeatmapCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    testing::make_texture_folders(*dir_ / "data", 8, 3);
    for (const std::string router : {"topk", "soft"}) {
      testing::write_text(*dir_ / (router + ".yaml"),
                          testing::tiny_config_yaml(*dir_ / "data", *dir_ / router, router, 3));
      const auto trained = run_command(kMoevit + " train --config " + (*dir_ / (router + ".yaml")));
      ASSERT_EQ(trained.exit_code, 0) << trained.output;
    }
  }
  static void TearDownTestSuite() { delete dir_; }

  static std::string heatmap(const std::string& router, const std::string& arguments) {
    return kMoevit + " heatmap --checkpoint " + (*dir_ / (router + "/last.pt")) + " " + arguments;
  }

  static TempDir* dir_;
};

TempDir* HeatmapCli::dir_ = nullptr;

TEST_F(HeatmapCli, TopkWritesALayerPngPerImageAndASummarySheet) {
  TempDir out;
  const auto result = run_command(heatmap("topk", (*dir_ / "data/val/checker/0.png") + " " +
                                                      (*dir_ / "data/val/vertical/1.png") +
                                                      " --out " + out.path()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  for (const std::string stem : {"0", "1"}) {
    const cv::Mat layer = cv::imread(out / (stem + "_block1.png"));
    const cv::Mat summary = cv::imread(out / (stem + "_summary.png"));
    ASSERT_FALSE(layer.empty()) << result.output;
    ASSERT_FALSE(summary.empty()) << result.output;
    EXPECT_GE(layer.rows, 4 * 56);                 // the 4×4 grid, 56 px a patch, plus title
    EXPECT_GE(layer.cols, 4 * 56 + 100);           // plus the legend
    EXPECT_GE(summary.cols, layer.cols + 4 * 56);  // the image column, then the layer's map
    EXPECT_NE(result.output.find(out / (stem + "_summary.png")), std::string::npos);
  }
}

TEST_F(HeatmapCli, SoftLayerPngHoldsTheDominantMapAndOnePanelPerExpert) {
  TempDir out;
  const auto result =
      run_command(heatmap("soft", (*dir_ / "data/val/horizontal/2.png") + " --out " + out.path()));
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const cv::Mat layer = cv::imread(out / "2_block1.png");
  ASSERT_FALSE(layer.empty()) << result.output;
  EXPECT_GE(layer.cols, 3 * 4 * 56);  // the dominant map, then 2 columns of expert panels
  EXPECT_GE(layer.rows, 2 * 4 * 56);  // 2 rows of panels
  EXPECT_TRUE(std::filesystem::exists(out / "2_summary.png"));
}

TEST_F(HeatmapCli, DatasetMatrixRowsSumToOne) {
  TempDir out;
  for (const std::string router : {"topk", "soft"}) {
    const auto result = run_command(heatmap(
        router, "--dataset " + (*dir_ / "data") + " --out " + (out / router) + " --layers 1"));
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_FALSE(cv::imread(out / (router + "/expert_by_class.png")).empty());
    const auto rows = read_csv(out / (router + "/expert_by_class_block1.csv"));
    ASSERT_EQ(rows.size(), 4u);  // header + 3 classes
    EXPECT_EQ(rows[0], (std::vector<std::string>{"class", "0", "1", "2", "3"}));
    for (size_t row = 1; row < rows.size(); ++row) {
      ASSERT_EQ(rows[row].size(), 5u);
      double sum = 0;
      for (size_t column = 1; column < rows[row].size(); ++column)
        sum += std::stod(rows[row][column]);
      EXPECT_NEAR(sum, 1.0, 1e-5) << router << " " << rows[row][0];
    }
    EXPECT_EQ(rows[1][0], "checker");
  }
}

TEST_F(HeatmapCli, CorruptImageIsReportedAndTheOthersDrawn) {
  TempDir out;
  testing::write_text(out / "in/bad.png", "not a png");
  std::filesystem::copy_file(*dir_ / "data/val/checker/0.png", out / "in/good.png");
  const auto result = run_command(heatmap("topk", out / "in" + " --out " + (out / "maps")));
  EXPECT_EQ(result.exit_code, 1) << result.output;
  EXPECT_NE(result.output.find("moevit heatmap: error: " + (out / "in/bad.png") + ": "),
            std::string::npos)
      << result.output;
  EXPECT_TRUE(std::filesystem::exists(out / "maps/good_block1.png"));
  EXPECT_FALSE(std::filesystem::exists(out / "maps/bad_block1.png"));
}

TEST_F(HeatmapCli, LayersThatAreNotMoeBlocksAreRefused) {
  const auto result = run_command(
      heatmap("topk", (*dir_ / "data/val/checker/0.png") + " --out /tmp/unused --layers 0"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.output.find("--layers: expected all or MoE block ids from {1}, got '0'"),
            std::string::npos)
      << result.output;
  EXPECT_FALSE(std::filesystem::exists("/tmp/unused"));
}

}  // namespace
}  // namespace moevit
