#include "app/figures/expert_by_class.h"

#include <ATen/ATen.h>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "app/figures/canvas.h"
#include "app/figures/expert_palette.h"
#include "app/figures/heatmap_routing.h"

namespace moevit {

namespace {

// Layout in pixels. Cells shrink for many classes or experts; labels and numbers are drawn only
// where they fit.
constexpr int kMargin = 12;
constexpr int kTitleCentre = 17;
constexpr int kHeaderTop = 34;  // the expert-id row
constexpr int kHeaderHeight = 24;
constexpr int kCellWidth = 44;       // up to 32 experts
constexpr int kCellHeight = 22;      // up to 60 classes
constexpr int kMatrixWidth = 1408;   // beyond: cells shrink to fit this width
constexpr int kMatrixHeight = 1320;  // and this height
constexpr int kMinLabelledRow = 12;
constexpr int kMinNumberedRow = 16;
constexpr int kColourBarWidth = 14;

std::string format_share(double share) {
  char text[16];
  std::snprintf(text, sizeof text, "%.2f", share);
  return text;
}

// A class name as a CSV field: quoted (quotes doubled) when it holds a comma or a quote.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

cv::Mat render_layer(const ExpertByClass& layer, const std::vector<std::string>& class_names) {
  const at::Tensor shares_tensor = layer.shares();
  const auto shares = shares_tensor.accessor<double, 2>();
  const int classes = static_cast<int>(shares.size(0)), experts = static_cast<int>(shares.size(1));
  const int cell_width = std::max(6, std::min(kCellWidth, kMatrixWidth / experts));
  const int cell_height = std::max(2, std::min(kCellHeight, kMatrixHeight / classes));
  int label_width = 0;
  if (cell_height >= kMinLabelledRow)
    for (const std::string& name : class_names)
      label_width = std::max(label_width, text_width(name, kLabelScale));
  const int matrix_left = kMargin + label_width + 8;
  const int matrix_top = kHeaderTop + kHeaderHeight;
  const std::vector<std::string> title = {
      "block " + std::to_string(layer.block),
      layer.soft ? "share of each class's patches by dominant combine expert"
                 : "share of each class's patches by first-choice expert"};
  const int bar_left = matrix_left + experts * cell_width + 16;
  const int width =
      std::max(bar_left + kColourBarWidth + 50, 2 * kMargin + title_width(title, kTitleScale));
  const int height = matrix_top + classes * cell_height + kMargin;
  cv::Mat canvas(height, width, CV_8UC3, kCanvasWhite);
  draw_title(canvas, title, {kMargin, kTitleCentre}, kTitleScale, kCanvasInk);

  // Expert ids across the top, each over a strip of its palette colour.
  for (int expert = 0; expert < experts; ++expert) {
    const int left = matrix_left + expert * cell_width;
    cv::rectangle(canvas, cv::Rect(left, matrix_top - 4, cell_width, 3), expert_colour(expert),
                  cv::FILLED);
    if (cell_width >= 20)
      draw_text(canvas, std::to_string(expert), {left + cell_width / 2, kHeaderTop + 10},
                TextAlign::kCentre, kLabelScale, kCanvasInk);
  }
  // Colour from 0 to the layer's largest share: with E experts shares sit near 1/E, and a fixed
  // 0-to-1 scale would paint them all one dark colour.
  const double top_share = std::max(shares_tensor.max().item<double>(), 1e-9);
  cv::Mat levels(classes, experts, CV_8UC1);
  for (int row = 0; row < classes; ++row)
    for (int expert = 0; expert < experts; ++expert)
      levels.at<uint8_t>(row, expert) =
          cv::saturate_cast<uint8_t>(255.0 * shares[row][expert] / top_share);
  cv::Mat colours;
  cv::applyColorMap(levels, colours, cv::COLORMAP_VIRIDIS);
  for (int row = 0; row < classes; ++row) {
    const int top = matrix_top + row * cell_height;
    if (cell_height >= kMinLabelledRow)
      draw_text(canvas, class_names[row], {matrix_left - 8, top + cell_height / 2},
                TextAlign::kRight, kLabelScale, kCanvasInk);
    for (int expert = 0; expert < experts; ++expert) {
      const cv::Rect cell(matrix_left + expert * cell_width, top, cell_width, cell_height);
      const cv::Vec3b colour = colours.at<cv::Vec3b>(row, expert);
      canvas(cell).setTo(cv::Scalar(colour[0], colour[1], colour[2]));
      const std::string number = format_share(shares[row][expert]);
      if (cell_height < kMinNumberedRow || text_width(number, kLabelScale) + 4 > cell_width)
        continue;
      // Viridis is dark below about 0.6 and light above: white text there, ink here.
      const cv::Scalar ink = levels.at<uint8_t>(row, expert) < 150 ? kCanvasWhite : kCanvasInk;
      draw_text(canvas, number, {cell.x + cell_width / 2, top + cell_height / 2},
                TextAlign::kCentre, kLabelScale, ink);
    }
  }
  cv::rectangle(canvas,
                cv::Rect(matrix_left, matrix_top, experts * cell_width, classes * cell_height),
                kCanvasInk, 1);

  // Colour bar, the largest share at the top, 0 at the bottom.
  const int bar_height = classes * cell_height;
  cv::Mat ramp(bar_height, 1, CV_8UC1);
  for (int row = 0; row < bar_height; ++row)
    ramp.at<uint8_t>(row) =
        cv::saturate_cast<uint8_t>(255.0 * (bar_height - 1 - row) / std::max(1, bar_height - 1));
  cv::Mat bar;
  cv::applyColorMap(ramp, bar, cv::COLORMAP_VIRIDIS);
  const cv::Rect bar_rect(bar_left, matrix_top, kColourBarWidth, bar_height);
  cv::resize(bar, canvas(bar_rect), bar_rect.size(), 0, 0, cv::INTER_NEAREST);
  cv::rectangle(canvas, bar_rect, kCanvasInk, 1);
  draw_text(canvas, format_share(top_share), {bar_left + kColourBarWidth + 6, matrix_top + 5},
            TextAlign::kLeft, kLabelScale, kCanvasInk);
  draw_text(canvas, "0", {bar_left + kColourBarWidth + 6, matrix_top + bar_height - 5},
            TextAlign::kLeft, kLabelScale, kCanvasInk);
  return canvas;
}

}  // namespace

ExpertByClass::ExpertByClass(int64_t block, bool soft, int64_t num_classes, int64_t num_experts)
    : block(block), soft(soft), counts(at::zeros({num_classes, num_experts}, at::kLong)) {}

void ExpertByClass::add(const PatchExperts& experts, const at::Tensor& labels) {
  const int64_t num_experts = counts.size(1);
  TORCH_CHECK(
      experts.num_experts == num_experts && labels.dim() == 1 && labels.size(0) == experts.images(),
      "ExpertByClass::add: expected ", num_experts, " experts and one label per image (",
      experts.images(), "), got ", experts.num_experts, " and ", labels.sizes());
  // Cell index label·E + expert of every patch, counted in one index_add.
  const at::Tensor cells =
      (labels.cpu().to(at::kLong).unsqueeze(1) * num_experts + experts.expert).reshape(-1);
  counts.view(-1).index_add_(0, cells, at::ones({cells.numel()}, at::kLong));
}

at::Tensor ExpertByClass::shares() const {
  const at::Tensor totals = counts.sum(1, /*keepdim=*/true).to(at::kDouble);
  return counts.to(at::kDouble) / totals.clamp_min(1);
}

std::string expert_by_class_csv(const ExpertByClass& layer,
                                const std::vector<std::string>& class_names) {
  const at::Tensor shares_tensor = layer.shares();
  const auto shares = shares_tensor.accessor<double, 2>();
  if (static_cast<int64_t>(class_names.size()) != shares.size(0))
    throw std::invalid_argument("expert_by_class_csv: " + std::to_string(class_names.size()) +
                                " class names for " + std::to_string(shares.size(0)) + " rows");
  std::ostringstream csv;
  csv << "class";
  for (int64_t expert = 0; expert < shares.size(1); ++expert) csv << ',' << expert;
  csv << '\n';
  char number[32];
  for (int64_t row = 0; row < shares.size(0); ++row) {
    csv << csv_field(class_names[row]);
    for (int64_t expert = 0; expert < shares.size(1); ++expert) {
      std::snprintf(number, sizeof number, "%.6f", shares[row][expert]);
      csv << ',' << number;
    }
    csv << '\n';
  }
  return csv.str();
}

cv::Mat render_expert_by_class(const std::vector<ExpertByClass>& layers,
                               const std::vector<std::string>& class_names) {
  std::vector<cv::Mat> figures;
  for (const ExpertByClass& layer : layers) figures.push_back(render_layer(layer, class_names));
  return arrange_tiles(figures, /*columns=*/1, /*gap=*/0);
}

}  // namespace moevit
