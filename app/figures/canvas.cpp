#include "app/figures/canvas.h"

#include <ATen/ATen.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <stdexcept>

#include "app/run/atomic_write.h"
#include "datasets/transforms.h"

namespace moevit {

namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;
constexpr int kTitleDotGap = 7;  // pixels either side of a middle dot

}  // namespace

cv::Mat model_input_picture(const at::Tensor& image, const TransformOptions& transform) {
  TORCH_CHECK(image.dim() == 3 && image.size(0) == transform.channels,
              "model_input_picture: expected an image [C,S,S] with C = ", transform.channels,
              ", got ", image.sizes());
  const auto channel_values = [&](const std::vector<double>& values) {
    return at::tensor(values, at::kDouble).to(at::kFloat).view({-1, 1, 1});
  };
  // Undo the normalisation: pixel = (x · std + mean) · 255.
  const at::Tensor pixels = ((image.detach().to(at::kFloat).cpu() * channel_values(transform.std) +
                              channel_values(transform.mean)) *
                             255)
                                .round()
                                .clamp(0, 255)
                                .to(at::kByte)
                                .permute({1, 2, 0})
                                .contiguous();  // [S,S,C]
  const int side = static_cast<int>(pixels.size(0)), width = static_cast<int>(pixels.size(1));
  const cv::Mat view(side, width, CV_8UC(static_cast<int>(transform.channels)),
                     pixels.data_ptr<uint8_t>());
  cv::Mat picture;
  cv::cvtColor(view, picture, transform.channels == 1 ? cv::COLOR_GRAY2BGR : cv::COLOR_RGB2BGR);
  return picture;  // cvtColor copied: the tensor may go
}

void draw_text(cv::Mat& canvas, const std::string& text, cv::Point anchor, TextAlign align,
               double scale, const cv::Scalar& colour, int thickness) {
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, kFont, scale, thickness, &baseline);
  const int left = align == TextAlign::kLeft     ? anchor.x
                   : align == TextAlign::kCentre ? anchor.x - size.width / 2
                                                 : anchor.x - size.width;
  cv::putText(canvas, text, {left, anchor.y + size.height / 2}, kFont, scale, colour, thickness,
              cv::LINE_AA);
}

int text_width(const std::string& text, double scale, int thickness) {
  int baseline = 0;
  return cv::getTextSize(text, kFont, scale, thickness, &baseline).width;
}

void draw_title(cv::Mat& canvas, const std::vector<std::string>& parts, cv::Point anchor,
                double scale, const cv::Scalar& colour) {
  int x = anchor.x;
  for (size_t index = 0; index < parts.size(); ++index) {
    if (index > 0) {
      cv::circle(canvas, {x + kTitleDotGap, anchor.y}, 2, colour, cv::FILLED, cv::LINE_AA);
      x += 2 * kTitleDotGap;
    }
    draw_text(canvas, parts[index], {x, anchor.y}, TextAlign::kLeft, scale, colour);
    x += text_width(parts[index], scale);
  }
}

int title_width(const std::vector<std::string>& parts, double scale) {
  int width = 0;
  for (const std::string& part : parts) width += text_width(part, scale);
  return width + 2 * kTitleDotGap * static_cast<int>(parts.empty() ? 0 : parts.size() - 1);
}

cv::Mat arrange_tiles(const std::vector<cv::Mat>& tiles, int columns, int gap,
                      std::vector<cv::Rect>* positions) {
  if (columns < 1) throw std::invalid_argument("arrange_tiles: expected columns >= 1");
  std::vector<cv::Rect> rects;
  int width = 0, height = gap, row_height = 0, x = gap;
  for (size_t index = 0; index < tiles.size(); ++index) {
    if (index > 0 && index % columns == 0) height += row_height + gap, x = gap, row_height = 0;
    rects.emplace_back(x, height, tiles[index].cols, tiles[index].rows);
    x += tiles[index].cols + gap;
    width = std::max(width, x);
    row_height = std::max(row_height, tiles[index].rows);
  }
  cv::Mat canvas(height + row_height + gap, std::max(width, 2 * gap), CV_8UC3, kCanvasWhite);
  for (size_t index = 0; index < tiles.size(); ++index) tiles[index].copyTo(canvas(rects[index]));
  if (positions) *positions = rects;
  return canvas;
}

void write_png(const std::string& path, const cv::Mat& image) {
  std::vector<uchar> png;
  if (image.empty() || !cv::imencode(".png", image, png))
    throw std::runtime_error(path + ": PNG encoding failed");
  write_bytes_atomically(path, reinterpret_cast<const char*>(png.data()), png.size());
}

}  // namespace moevit
