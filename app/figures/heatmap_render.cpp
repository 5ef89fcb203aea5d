#include "app/figures/heatmap_render.h"

#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "app/figures/canvas.h"
#include "app/figures/expert_palette.h"

namespace moevit {

namespace {

// Layout in pixels.
constexpr int kMargin = 12;
constexpr int kMapTop = 34;           // below the title line
constexpr int kTitleCentre = 17;      // the title's vertical middle
constexpr int kTargetGridSide = 224;  // a patch grid aims at about this many pixels
constexpr int kMinPatchPixels = 16;
constexpr int kLegendGap = 16;  // map to legend
constexpr int kLegendRow = 20;
constexpr int kSwatch = 14;
constexpr int kHatchSpacing = 8;
constexpr int kPanelTitle = 22;      // above each dispatch panel
constexpr double kCountScale = 0.3;  // experts-per-patch digits, ~7 px tall
constexpr int kPanelGap = 10;
constexpr int kColourBarWidth = 14;
constexpr int kPredictionRow = 22;
constexpr int kSummaryLayerColumns = 3;

// Maps are drawn over the image washed towards white (pixel · 0.45 + 255 · 0.55): tints over
// black would turn orange into brown and blue into navy, other experts' colours.
constexpr double kWashToWhite = 0.55;
// Tint opacity 0.4 + 0.5 · weight: a weight-0 patch still reads as its expert's colour, a
// weight-1 patch still shows the image through.
constexpr double kTintFloor = 0.4;
constexpr double kTintPerWeight = 0.5;
// A dropped patch: the image faded towards grey, hatched in its expert's colour.
constexpr double kDroppedFade = 0.7;
const cv::Scalar kDroppedGrey(175, 175, 175);
const cv::Scalar kGridLine(150, 150, 150);
// Dispatch panels: colour map over the washed image at this opacity (the image only hints at
// where the object is; the colour is the weight).
constexpr double kColourMapOpacity = 0.8;

cv::Mat upscaled(const cv::Mat& picture, int side) {
  cv::Mat out;
  cv::resize(picture, out, {side, side}, 0, 0, cv::INTER_NEAREST);
  return out;
}

cv::Mat washed(const cv::Mat& picture, int side) {
  cv::Mat out = upscaled(picture, side);
  out.convertTo(out, -1, 1 - kWashToWhite, 255 * kWashToWhite);
  return out;
}

cv::Rect patch_rect(int64_t patch, int64_t patches_per_side, int patch_pixels) {
  return {static_cast<int>(patch % patches_per_side) * patch_pixels,
          static_cast<int>(patch / patches_per_side) * patch_pixels, patch_pixels, patch_pixels};
}

void blend(cv::Mat roi, const cv::Scalar& colour, double opacity) {
  const cv::Mat solid(roi.size(), roi.type(), colour);
  cv::addWeighted(roi, 1 - opacity, solid, opacity, 0, roi);
}

// "/" diagonals every kHatchSpacing pixels, clipped to `roi` (cv::line clips to the Mat).
void hatch(cv::Mat roi, const cv::Scalar& colour) {
  for (int offset = kHatchSpacing / 2; offset < roi.cols + roi.rows; offset += kHatchSpacing)
    cv::line(roi, {offset, 0}, {offset - roi.rows, roi.rows}, colour, 2, cv::LINE_8);
}

void draw_grid(cv::Mat grid, int64_t patches_per_side, int patch_pixels) {
  for (int64_t line = 0; line <= patches_per_side; ++line) {
    const int at = std::min(static_cast<int>(line) * patch_pixels, grid.cols - 1);
    cv::line(grid, {at, 0}, {at, grid.rows - 1}, kGridLine, 1);
    cv::line(grid, {0, at}, {grid.cols - 1, at}, kGridLine, 1);
  }
}

void check_assignment(const ExpertAssignment& assignment) {
  const size_t patches =
      static_cast<size_t>(assignment.patches_per_side * assignment.patches_per_side);
  if (assignment.patches_per_side < 1 || assignment.num_experts < 1 ||
      assignment.expert.size() != patches || assignment.weight.size() != patches ||
      !(assignment.dropped.empty() || assignment.dropped.size() == patches) ||
      !(assignment.experts_per_patch.empty() || assignment.experts_per_patch.size() == patches))
    throw std::invalid_argument(
        "render_expert_map: expected expert and weight (and dropped, if any) of " +
        std::to_string(patches) + " patches and num_experts >= 1, got " +
        std::to_string(assignment.expert.size()) + ", " + std::to_string(assignment.weight.size()) +
        ", " + std::to_string(assignment.dropped.size()) + " and " +
        std::to_string(assignment.num_experts));
  for (const int64_t expert : assignment.expert)
    if (expert < 0 || expert >= assignment.num_experts)
      throw std::invalid_argument("render_expert_map: expert id " + std::to_string(expert) +
                                  " outside [0, " + std::to_string(assignment.num_experts) + ")");
}

std::string format_weight(double weight) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g", weight);
  return text;
}

std::string percent(double share) {
  if (share > 0 && share < 0.005) return "<1%";
  char text[16];
  std::snprintf(text, sizeof text, "%.0f%%", 100 * share);
  return text;
}

// The legend beside an expert map: "expert e: P%" per expert (share of this image's patches
// whose first choice is e), then the dropped-patch swatch when any dropped.
struct LegendRow {
  std::string text;
  int64_t expert;  // -1: the dropped swatch
};

std::vector<LegendRow> legend_rows(const ExpertAssignment& assignment, int64_t dropped) {
  std::vector<double> count(static_cast<size_t>(assignment.num_experts), 0.0);
  for (const int64_t expert : assignment.expert) count[static_cast<size_t>(expert)] += 1;
  const double patches = static_cast<double>(assignment.expert.size());
  std::vector<LegendRow> rows;
  for (int64_t expert = 0; expert < assignment.num_experts; ++expert)
    rows.push_back({"expert " + std::to_string(expert) + ": " +
                        percent(count[static_cast<size_t>(expert)] / patches),
                    expert});
  if (dropped > 0)
    rows.push_back({assignment.experts_per_patch.empty()
                        ? "dropped: " + std::to_string(dropped) + " (over capacity)"
                        : "no expert: " + std::to_string(dropped) + " (digits: experts per patch)",
                    -1});
  return rows;
}

void draw_legend_row(cv::Mat& canvas, const LegendRow& row, cv::Point left_middle) {
  const cv::Rect swatch(left_middle.x, left_middle.y - kSwatch / 2, kSwatch, kSwatch);
  if (row.expert >= 0) {
    cv::rectangle(canvas, swatch, expert_colour(row.expert), cv::FILLED);
  } else {
    canvas(swatch).setTo(kDroppedGrey);
    hatch(canvas(swatch), kCanvasInk);
  }
  draw_text(canvas, row.text, {left_middle.x + kSwatch + 6, left_middle.y}, TextAlign::kLeft,
            kLabelScale, kCanvasInk);
}

}  // namespace

int heatmap_patch_pixels(int64_t patches_per_side, int64_t patch_size) {
  if (patches_per_side < 1 || patch_size < 1)
    throw std::invalid_argument(
        "heatmap_patch_pixels: expected patches_per_side and patch_size "
        ">= 1, got " +
        std::to_string(patches_per_side) + " and " + std::to_string(patch_size));
  const int wanted = std::max<int>(
      kMinPatchPixels, static_cast<int>(std::lround(double(kTargetGridSide) / patches_per_side)));
  const int unit = static_cast<int>(patch_size);
  return std::max(unit, (wanted + unit - 1) / unit * unit);
}

HeatmapFigure render_expert_map(const cv::Mat& picture, const ExpertAssignment& assignment,
                                int patch_pixels, const std::vector<std::string>& title_parts) {
  check_assignment(assignment);
  const int64_t patches_per_side = assignment.patches_per_side;
  const int side = static_cast<int>(patches_per_side) * patch_pixels;
  cv::Mat map = washed(picture, side);
  int64_t dropped = 0;
  for (size_t patch = 0; patch < assignment.expert.size(); ++patch) {
    cv::Mat roi = map(patch_rect(static_cast<int64_t>(patch), patches_per_side, patch_pixels));
    const cv::Scalar colour = expert_colour(assignment.expert[patch]);
    if (!assignment.dropped.empty() && assignment.dropped[patch]) {
      ++dropped;
      blend(roi, kDroppedGrey, kDroppedFade);
      hatch(roi, colour);
      continue;
    }
    const double weight = std::clamp<double>(assignment.weight[patch], 0.0, 1.0);
    blend(roi, colour, kTintFloor + kTintPerWeight * weight);
  }
  draw_grid(map, patches_per_side, patch_pixels);
  for (size_t patch = 0; patch < assignment.experts_per_patch.size(); ++patch) {
    const cv::Rect cell = patch_rect(static_cast<int64_t>(patch), patches_per_side, patch_pixels);
    draw_text(map, std::to_string(assignment.experts_per_patch[patch]),
              {cell.x + 3, cell.y + patch_pixels / 4 + 1}, TextAlign::kLeft, kCountScale,
              kCanvasInk);
  }

  const std::vector<LegendRow> rows = legend_rows(assignment, dropped);
  int legend_width = 0;
  for (const LegendRow& row : rows)
    legend_width = std::max(legend_width, kSwatch + 6 + text_width(row.text, kLabelScale));
  const int legend_left = kMargin + side + kLegendGap;
  const int width = std::max(legend_left + legend_width + kMargin,
                             2 * kMargin + title_width(title_parts, kTitleScale));
  const int height = kMapTop + std::max(side, static_cast<int>(rows.size()) * kLegendRow) + kMargin;
  HeatmapFigure figure{cv::Mat(height, width, CV_8UC3, kCanvasWhite), {}};
  draw_title(figure.image, title_parts, {kMargin, kTitleCentre}, kTitleScale, kCanvasInk);
  figure.maps.emplace_back(kMargin, kMapTop, side, side);
  map.copyTo(figure.image(figure.maps.back()));
  for (size_t index = 0; index < rows.size(); ++index)
    draw_legend_row(figure.image, rows[index],
                    {legend_left, kMapTop + kLegendRow / 2 + static_cast<int>(index) * kLegendRow});
  return figure;
}

HeatmapFigure render_dispatch_panels(const cv::Mat& picture, int64_t patches_per_side,
                                     const std::vector<std::vector<float>>& expert_weights,
                                     int patch_pixels,
                                     const std::vector<std::string>& title_parts) {
  const size_t patches = static_cast<size_t>(patches_per_side * patches_per_side);
  float smallest = std::numeric_limits<float>::infinity(), largest = -smallest;
  for (const std::vector<float>& weights : expert_weights) {
    if (weights.size() != patches)
      throw std::invalid_argument("render_dispatch_panels: expected " + std::to_string(patches) +
                                  " weights per expert, got " + std::to_string(weights.size()));
    for (const float weight : weights)
      smallest = std::min(smallest, weight), largest = std::max(largest, weight);
  }
  if (expert_weights.empty())
    throw std::invalid_argument("render_dispatch_panels: expected the weights of >= 1 expert");
  // One scale for every panel, the smallest to the largest weight of all experts: a nearly
  // uniform dispatch (an untrained router) still shows its structure, and the colour bar's
  // labels say how small the range is. Equal weights: every panel at the bottom.
  const float range = largest > smallest ? largest - smallest : 1.0f;

  const int experts = static_cast<int>(expert_weights.size());
  const int columns = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(experts))));
  const int rows = (experts + columns - 1) / columns;
  const int side = static_cast<int>(patches_per_side) * patch_pixels;
  const cv::Mat base = washed(picture, side);
  const std::string top_label = format_weight(largest), bottom_label = format_weight(smallest);
  const int grid_width = columns * side + (columns - 1) * kPanelGap;
  const int bar_left = kMargin + grid_width + kLegendGap;
  const int width = std::max(
      bar_left + kColourBarWidth + 6 +
          std::max(text_width(top_label, kLabelScale), text_width(bottom_label, kLabelScale)) +
          kMargin,
      2 * kMargin + title_width(title_parts, kTitleScale));
  const int height = kMapTop + rows * (kPanelTitle + side) + (rows - 1) * kPanelGap + kMargin;
  HeatmapFigure figure{cv::Mat(height, width, CV_8UC3, kCanvasWhite), {}};
  draw_title(figure.image, title_parts, {kMargin, kTitleCentre}, kTitleScale, kCanvasInk);

  for (int expert = 0; expert < experts; ++expert) {
    cv::Mat levels(static_cast<int>(patches_per_side), static_cast<int>(patches_per_side), CV_8UC1);
    for (size_t patch = 0; patch < patches; ++patch)
      levels.at<uint8_t>(static_cast<int>(patch)) =
          cv::saturate_cast<uint8_t>(255.0 * (expert_weights[expert][patch] - smallest) / range);
    cv::Mat panel;
    cv::applyColorMap(upscaled(levels, side), panel, cv::COLORMAP_VIRIDIS);
    cv::addWeighted(base, 1 - kColourMapOpacity, panel, kColourMapOpacity, 0, panel);
    draw_grid(panel, patches_per_side, patch_pixels);
    const int left = kMargin + (expert % columns) * (side + kPanelGap);
    const int top = kMapTop + (expert / columns) * (kPanelTitle + side + kPanelGap);
    cv::rectangle(figure.image, cv::Rect(left, top + kPanelTitle / 2 - 5, 10, 10),
                  expert_colour(expert), cv::FILLED);
    draw_text(figure.image, "expert " + std::to_string(expert), {left + 15, top + kPanelTitle / 2},
              TextAlign::kLeft, kLabelScale, kCanvasInk);
    figure.maps.emplace_back(left, top + kPanelTitle, side, side);
    panel.copyTo(figure.image(figure.maps.back()));
  }

  // The shared colour bar beside the first row: the scale's top at the top.
  cv::Mat ramp(side, 1, CV_8UC1);
  for (int row = 0; row < side; ++row)
    ramp.at<uint8_t>(row) = cv::saturate_cast<uint8_t>(255.0 * (side - 1 - row) / (side - 1));
  cv::Mat bar;
  cv::applyColorMap(ramp, bar, cv::COLORMAP_VIRIDIS);
  const cv::Rect bar_rect(bar_left, kMapTop + kPanelTitle, kColourBarWidth, side);
  cv::resize(bar, figure.image(bar_rect), bar_rect.size(), 0, 0, cv::INTER_NEAREST);
  cv::rectangle(figure.image, bar_rect, kCanvasInk, 1);
  const int label_left = bar_rect.x + kColourBarWidth + 6;
  draw_text(figure.image, top_label, {label_left, bar_rect.y + 5}, TextAlign::kLeft, kLabelScale,
            kCanvasInk);
  draw_text(figure.image, bottom_label, {label_left, bar_rect.y + side - 5}, TextAlign::kLeft,
            kLabelScale, kCanvasInk);
  return figure;
}

cv::Mat render_summary(const cv::Mat& picture, int patch_pixels, int64_t patches_per_side,
                       const std::string& name,
                       const std::vector<std::pair<std::string, double>>& predictions,
                       const std::vector<cv::Mat>& layer_figures) {
  const int side = static_cast<int>(patches_per_side) * patch_pixels;
  int text_column = side;
  for (const auto& [label, probability] : predictions)
    text_column = std::max(text_column, 70 + text_width(label, kLabelScale));
  const int width = 2 * kMargin + std::max(text_column, text_width(name, kTitleScale));
  const int predictions_top = kMapTop + side + 12;
  const int height =
      predictions_top + kPredictionRow * (1 + static_cast<int>(predictions.size())) + kMargin;
  cv::Mat column(height, width, CV_8UC3, kCanvasWhite);
  draw_text(column, name, {kMargin, kTitleCentre}, TextAlign::kLeft, kTitleScale, kCanvasInk);
  upscaled(picture, side).copyTo(column(cv::Rect(kMargin, kMapTop, side, side)));
  draw_text(column, "top predictions", {kMargin, predictions_top + kPredictionRow / 2},
            TextAlign::kLeft, kLabelScale, kCanvasGreyText);
  for (size_t index = 0; index < predictions.size(); ++index) {
    const auto& [label, probability] = predictions[index];
    const int middle =
        predictions_top + kPredictionRow * (static_cast<int>(index) + 1) + kPredictionRow / 2;
    char share[16];
    std::snprintf(share, sizeof share, "%.1f%%", 100 * probability);
    draw_text(column, share, {kMargin + 56, middle}, TextAlign::kRight, kLabelScale, kCanvasInk);
    draw_text(column, label, {kMargin + 66, middle}, TextAlign::kLeft, kLabelScale,
              index == 0 ? kCanvasInk : kCanvasGreyText);
  }
  const cv::Mat layers = arrange_tiles(layer_figures, kSummaryLayerColumns, /*gap=*/0);
  return arrange_tiles({column, layers}, /*columns=*/2, /*gap=*/0);
}

}  // namespace moevit
