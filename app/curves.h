// Training curves: metrics.jsonl records → one PNG of three stacked panels drawn with OpenCV
// (loss, validation accuracy, per-MoE-layer drop rate), readable at a glance, no plotting
// library. Not a general plotter: the panels are fixed to what a moevit run logs.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace moevit {

// A series colour in OpenCV's channel order, named so tests can look for it in the PNG.
struct BgrColour {
  uint8_t blue, green, red;
};

constexpr BgrColour kTrainLossColour{180, 119, 31};  // blue
constexpr BgrColour kValLossColour{14, 127, 255};    // orange
constexpr BgrColour kValTop1Colour{44, 160, 44};     // green
constexpr BgrColour kValTop5Colour{189, 103, 148};   // purple
constexpr BgrColour kValTop1EmaColour{40, 39, 214};  // red

// The drop-rate line of the index-th MoE layer (0 = the first), cycling through 10 colours.
BgrColour moe_layer_colour(size_t moe_layer_index);

// The PNG's layout in pixels: a title band, then the loss, accuracy and drop-rate panels.
constexpr int kCurvesWidth = 960;
constexpr int kCurvesTitleBandHeight = 40;
constexpr int kCurvesPanelHeight = 300;
constexpr int kCurvesHeight = kCurvesTitleBandHeight + 3 * kCurvesPanelHeight;

// Draws `records` (metrics.jsonl objects: "epoch", "train_loss", "val" {"top1", "top5", "loss",
// "routing" [{"block", "dropped_fraction"}, ...]}) and writes the PNG atomically. A later
// record of the same epoch replaces an earlier one (a resumed run re-appends its epoch); JSON
// null (a NaN when logged) leaves a gap. Throws std::invalid_argument naming png_path when
// there are no records or one lacks "epoch", "train_loss" or "val".
void write_curves_png(const std::vector<nlohmann::json>& records, const std::string& png_path,
                      const std::string& title);

// RUN_DIR/metrics.jsonl → RUN_DIR/curves.png, titled with the folder's name; returns the PNG's
// path. Errors name RUN_DIR/metrics.jsonl.
std::string plot_run(const std::string& run_dir);

}  // namespace moevit
