// The drawing basics every figure shares (heatmaps, curves): the model's input as a picture, text
// anchored and aligned, a title of parts joined by middle dots, and writing a PNG atomically.
#pragma once

#include <ATen/core/Tensor.h>
#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace moevit {

struct TransformOptions;

const cv::Scalar kCanvasWhite(255, 255, 255);
const cv::Scalar kCanvasInk(40, 40, 40);
const cv::Scalar kCanvasGreyText(110, 110, 110);

// Text sizes (OpenCV Hershey scale) used across the figures.
constexpr double kTitleScale = 0.5;
constexpr double kLabelScale = 0.42;

// image [C,S,S] float, normalised as `transform` normalises → 8-bit BGR [S,S,3] (grayscale as
// grey RGB): the pixels the model saw, after resize and crop, so patches line up.
cv::Mat model_input_picture(const at::Tensor& image, const TransformOptions& transform);

enum class TextAlign { kLeft, kCentre, kRight };

// `anchor` is the text's vertical middle and, per `align`, its left end, centre or right end.
void draw_text(cv::Mat& canvas, const std::string& text, cv::Point anchor, TextAlign align,
               double scale, const cv::Scalar& colour, int thickness = 1);
int text_width(const std::string& text, double scale, int thickness = 1);

// "block 3 · topk · dropped 2 of 49": parts joined by drawn middle dots (the Hershey fonts have
// no "·"), left end at `anchor`, vertically centred on it.
void draw_title(cv::Mat& canvas, const std::vector<std::string>& parts, cv::Point anchor,
                double scale, const cv::Scalar& colour);
int title_width(const std::vector<std::string>& parts, double scale);

// Places `tiles` left to right, `columns` per row, tops aligned, `gap` pixels apart and around,
// on white. `positions` (optional) receives each tile's rectangle in the result.
cv::Mat arrange_tiles(const std::vector<cv::Mat>& tiles, int columns, int gap,
                      std::vector<cv::Rect>* positions = nullptr);

// PNG-encodes `image` and writes it atomically (app/run/atomic_write.h); errors name `path`.
void write_png(const std::string& path, const cv::Mat& image);

}  // namespace moevit
