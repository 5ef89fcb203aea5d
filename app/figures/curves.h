// Training curves: metrics.jsonl records → one PNG of three stacked panels drawn with OpenCV
// (loss, validation accuracy, per-MoE-layer drop rate), readable at a glance, no plotting
// library. The panels' drawing is shared with other line figures (eval --sweep) through
// write_panels_png.
#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
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

// One line of a panel: values[i] belongs to the panel's x[i]; NaN leaves a gap.
struct PlotSeries {
  std::string label;
  BgrColour colour;
  std::vector<double> values;
};

// One panel of lines over a shared x axis.
struct PlotPanel {
  std::string heading;
  std::string y_title;
  std::vector<PlotSeries> series;  // only those with at least one value
  double floor = 0;                // the y axis never goes below, nor above `ceiling`
  double ceiling = std::numeric_limits<double>::infinity();
  bool from_zero = false;  // y axis starts at `floor` whatever the data
  std::string empty_note;  // written instead of a plot when there is no series
  std::vector<double> x;   // one per value of each series
  std::string x_title;
  double x_min_step = 0;  // e.g. 1 for epochs
};

// Stacked panels (kCurvesPanelHeight each) under a title band with `title` on the left and
// `summary` on the right; written atomically. Every panel with series needs a non-empty x.
void write_panels_png(const std::vector<PlotPanel>& panels, const std::string& title,
                      const std::string& summary, const std::string& png_path);

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
