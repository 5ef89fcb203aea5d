#include "app/figures/curves.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <stdexcept>

#include "app/eval/metrics_log.h"
#include "app/figures/canvas.h"

namespace moevit {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// Layout in pixels. Each panel: a heading, the plot, then x tick labels and the axis title; the
// left margin holds y tick labels and the rotated y title, the right column the legend.
constexpr int kPlotLeft = 84;
constexpr int kPlotRight = kCurvesWidth - 176;
constexpr int kPlotTopInPanel = 34;
constexpr int kPlotBottomInPanel = kCurvesPanelHeight - 50;
constexpr int kLegendRowHeight = 22;
constexpr int kPlotInset = 8;            // a marker's radius and then some
constexpr int kTargetTicks = 5;          // about this many ticks per axis, as nice_axis rounds
constexpr size_t kMaxMarkedPoints = 60;  // beyond, markers would hide the line; isolated points
                                         // are marked still
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

const cv::Scalar kWhite(255, 255, 255);
const cv::Scalar kInk(40, 40, 40);
const cv::Scalar kGreyText(110, 110, 110);
const cv::Scalar kGridLine(228, 228, 228);

// Matplotlib's "tab10" palette (BGR): distinct at a glance, and for most colour-blind readers.
const BgrColour kPalette[] = {{180, 119, 31},  {14, 127, 255}, {44, 160, 44},   {40, 39, 214},
                              {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {127, 127, 127},
                              {34, 189, 188},  {207, 190, 23}};

cv::Scalar to_scalar(BgrColour colour) {
  return cv::Scalar(colour.blue, colour.green, colour.red);
}

using Series = PlotSeries;
using Panel = PlotPanel;

struct Curves {
  std::vector<double> epochs;  // ascending, one per epoch
  std::vector<Panel> panels;
  std::string summary;  // one line beside the title
};

// ---- records → series ------------------------------------------------------------------------

// A number, NaN for JSON null (how nlohmann writes a NaN) or when `key` is absent and optional.
double number_at(const nlohmann::json& object, const char* key, bool required,
                 const std::string& where) {
  if (!object.contains(key)) {
    if (required) throw std::invalid_argument(where + ": missing \"" + key + "\"");
    return kNaN;
  }
  const nlohmann::json& value = object[key];
  if (value.is_null()) return kNaN;
  if (!value.is_number())
    throw std::invalid_argument(where + ": \"" + key + "\": expected a number, got " +
                                value.dump());
  return value.get<double>();
}

// "epochs 1-12   best val top-1 91.20% (epoch 9)": what a reader looks for first.
std::string run_summary(const std::vector<double>& epochs, const Series& top1) {
  char text[128];
  const int first = static_cast<int>(epochs.front()), last = static_cast<int>(epochs.back());
  const int length = first == last ? std::snprintf(text, sizeof text, "epoch %d", first)
                                   : std::snprintf(text, sizeof text, "epochs %d-%d", first, last);
  size_t best = top1.values.size();
  for (size_t index = 0; index < top1.values.size(); ++index)
    if (std::isfinite(top1.values[index]) &&
        (best == top1.values.size() || top1.values[index] > top1.values[best]))
      best = index;
  if (best < top1.values.size())
    std::snprintf(text + length, sizeof text - length, "   best %s %.2f%% (epoch %d)",
                  top1.label.c_str(), top1.values[best], static_cast<int>(epochs[best]));
  return text;
}

Curves curves_from_records(const std::vector<nlohmann::json>& records, const std::string& source) {
  if (records.empty()) throw std::invalid_argument(source + ": no metrics records to draw");
  // A resumed run re-appends an epoch it had logged before its checkpoint: the last one wins.
  std::map<int64_t, const nlohmann::json*> record_of_epoch;
  for (size_t index = 0; index < records.size(); ++index) {
    const std::string where = source + ": record " + std::to_string(index + 1);
    const nlohmann::json& record = records[index];
    if (!record.is_object()) throw std::invalid_argument(where + ": expected a JSON object");
    const double epoch = number_at(record, "epoch", /*required=*/true, where);
    if (!std::isfinite(epoch)) throw std::invalid_argument(where + ": \"epoch\" is null");
    number_at(record, "train_loss", /*required=*/true, where);
    if (!record.contains("val") || !record["val"].is_object())
      throw std::invalid_argument(where + ": missing \"val\" (an object)");
    record_of_epoch[static_cast<int64_t>(epoch)] = &record;
  }

  Series train_loss{"train loss", kTrainLossColour, {}}, val_loss{"val loss", kValLossColour, {}};
  Series top1{"val top-1", kValTop1Colour, {}}, top5{"val top-5", kValTop5Colour, {}};
  Series top1_ema{"EMA top-1", kValTop1EmaColour, {}};      // runs with optim.ema_decay
  std::map<int64_t, std::vector<double>> dropped_of_block;  // percent, per epoch
  Curves curves;
  for (const auto& [epoch, record] : record_of_epoch) {
    const std::string where = source + ": epoch " + std::to_string(epoch);
    const nlohmann::json& val = (*record)["val"];
    const size_t index = curves.epochs.size();
    curves.epochs.push_back(static_cast<double>(epoch));
    train_loss.values.push_back(number_at(*record, "train_loss", true, where));
    val_loss.values.push_back(number_at(val, "loss", false, where + ": val"));
    top1.values.push_back(100 * number_at(val, "top1", false, where + ": val"));
    top5.values.push_back(100 * number_at(val, "top5", false, where + ": val"));
    top1_ema.values.push_back(
        record->contains("val_ema")
            ? 100 * number_at((*record)["val_ema"], "top1", false, where + ": val_ema")
            : kNaN);
    if (!val.contains("routing")) continue;
    for (const nlohmann::json& layer : val["routing"]) {
      const std::string layer_where = where + ": val.routing";
      const auto block = static_cast<int64_t>(number_at(layer, "block", true, layer_where));
      std::vector<double>& dropped = dropped_of_block[block];
      dropped.resize(record_of_epoch.size(), kNaN);
      dropped[index] = 100 * number_at(layer, "dropped_fraction", false, layer_where);
    }
  }

  const auto with_values = [](std::vector<Series> series) {
    series.erase(std::remove_if(series.begin(), series.end(),
                                [](const Series& line) {
                                  return std::none_of(line.values.begin(), line.values.end(),
                                                      [](double v) { return std::isfinite(v); });
                                }),
                 series.end());
    return series;
  };
  std::vector<Series> blocks;
  for (const auto& [block, dropped] : dropped_of_block)
    blocks.push_back({"block " + std::to_string(block), moe_layer_colour(blocks.size()), dropped});
  const auto epoch_panel = [&](const char* heading, const char* y_title, std::vector<Series> series,
                               double ceiling, bool from_zero, const char* empty_note) {
    Panel panel;
    panel.heading = heading;
    panel.y_title = y_title;
    panel.series = with_values(std::move(series));
    panel.ceiling = ceiling;
    panel.from_zero = from_zero;
    panel.empty_note = empty_note;
    panel.x = curves.epochs;
    panel.x_title = "epoch";
    panel.x_min_step = 1;
    return panel;
  };
  curves.panels = {epoch_panel("Loss", "loss", {train_loss, val_loss}, kInfinity,
                               /*from_zero=*/false, "no loss logged"),
                   epoch_panel("Validation accuracy", "accuracy (%)", {top1, top1_ema, top5}, 100,
                               /*from_zero=*/false, "no accuracy logged"),
                   epoch_panel("Dropped token assignments per MoE layer (over capacity)",
                               "dropped (%)", blocks, 100, /*from_zero=*/true, "no MoE layers")};
  // The run ranked its checkpoints by the averaged weights when it kept them.
  const bool averaged = std::any_of(top1_ema.values.begin(), top1_ema.values.end(),
                                    [](double value) { return std::isfinite(value); });
  curves.summary = run_summary(curves.epochs, averaged ? top1_ema : top1);
  return curves;
}

// ---- axes ------------------------------------------------------------------------------------

struct Axis {
  double low, high, step;
  int decimals;  // of the tick labels
};

// Heckbert, "Nice numbers for graph labels" (Graphics Gems, 1990): 1, 2 or 5 times a power of
// ten, rounded to the nearest (`round`) or the next above.
double nice_number(double value, bool round) {
  const double power = std::pow(10.0, std::floor(std::log10(value)));
  const double fraction = value / power;
  if (round) return power * (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10);
  return power * (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10);
}

// Heckbert's "loose" labelling: the axis ends on ticks that enclose [low, high] (low < high).
Axis nice_axis(double low, double high, double min_step) {
  const double range = nice_number(high - low, /*round=*/false);
  const double step = std::max(nice_number(range / (kTargetTicks - 1), /*round=*/true), min_step);
  // The 1e-9 keeps a bound that is a tick already from moving one step out by rounding error.
  const double axis_low = std::floor(low / step + 1e-9) * step;
  const double axis_high = std::ceil(high / step - 1e-9) * step;
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  return {axis_low, axis_high, step, decimals};
}

// The y axis of a panel: the finite values' range, widened when constant (a flat line gets an
// axis around it rather than a zero range), clamped to the panel's floor and ceiling.
Axis value_axis(const Panel& panel) {
  double low = kInfinity, high = -kInfinity;
  for (const Series& series : panel.series)
    for (double value : series.values)
      if (std::isfinite(value)) low = std::min(low, value), high = std::max(high, value);
  if (panel.from_zero) low = std::min(low, panel.floor);
  if (high - low <= 1e-9 * std::max(1.0, std::abs(high))) {
    const double pad = high != 0 ? 0.05 * std::abs(high) : 1;
    low -= pad, high += pad;
  }
  low = std::max(low, panel.floor);
  high = std::min(high, panel.ceiling);
  Axis axis = nice_axis(low, high, /*min_step=*/0);
  axis.low = std::max(axis.low, panel.floor);
  axis.high = std::min(axis.high, panel.ceiling);
  return axis;
}

// The x axis of a panel: its values' range; a single value gets an axis of ±1 around it (not
// below 0).
Axis x_axis(const Panel& panel) {
  const auto [first, last] = std::minmax_element(panel.x.begin(), panel.x.end());
  if (*first == *last) return nice_axis(std::max(0.0, *first - 1), *first + 1, panel.x_min_step);
  return nice_axis(*first, *last, panel.x_min_step);
}

std::string tick_label(double value, int decimals) {
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, value + 0.0);  // + 0.0: no "-0"
  return text;
}

// ---- drawing ---------------------------------------------------------------------------------

// Text read bottom to top, centred on `centre` (OpenCV draws only horizontal text).
void draw_vertical_text(cv::Mat& image, const std::string& text, cv::Point centre, double scale,
                        const cv::Scalar& colour) {
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, kFont, scale, 1, &baseline);
  cv::Mat label(size.height + baseline + 4, size.width + 4, CV_8UC3, kWhite);
  draw_text(label, text, {2, label.rows / 2 - baseline / 2}, TextAlign::kLeft, scale, colour);
  cv::rotate(label, label, cv::ROTATE_90_COUNTERCLOCKWISE);
  const cv::Rect target =
      cv::Rect(centre.x - label.cols / 2, centre.y - label.rows / 2, label.cols, label.rows) &
      cv::Rect(0, 0, image.cols, image.rows);
  label(cv::Rect(0, 0, target.width, target.height)).copyTo(image(target));
}

struct PlotArea {
  cv::Rect rect;
  Axis x, y;

  // The axes' ends sit kPlotInset inside the frame, so a point on them is not cut by it.
  cv::Point pixel(double x_value, double y_value) const {
    const double x_share = (x_value - x.low) / (x.high - x.low);
    const double y_share = (y_value - y.low) / (y.high - y.low);
    const int width = rect.width - 2 * kPlotInset, height = rect.height - 2 * kPlotInset;
    return {rect.x + kPlotInset + static_cast<int>(std::lround(x_share * width)),
            rect.y + kPlotInset + height - static_cast<int>(std::lround(y_share * height))};
  }
};

void draw_axes(cv::Mat& image, const PlotArea& area, const std::string& x_title,
               const std::string& y_title) {
  const cv::Rect& rect = area.rect;
  for (double value = area.y.low; value <= area.y.high + 1e-6 * area.y.step; value += area.y.step) {
    const int y = area.pixel(area.x.low, value).y;
    cv::line(image, {rect.x, y}, {rect.x + rect.width, y}, kGridLine, 1);
    cv::line(image, {rect.x - 5, y}, {rect.x, y}, kInk, 1);
    draw_text(image, tick_label(value, area.y.decimals), {rect.x - 8, y}, TextAlign::kRight, 0.45,
              kInk);
  }
  for (double value = area.x.low; value <= area.x.high + 1e-6 * area.x.step; value += area.x.step) {
    const int x = area.pixel(value, area.y.low).x;
    const int bottom = rect.y + rect.height;
    cv::line(image, {x, bottom}, {x, bottom + 5}, kInk, 1);
    draw_text(image, tick_label(value, area.x.decimals), {x, bottom + 18}, TextAlign::kCentre, 0.45,
              kInk);
  }
  cv::rectangle(image, rect, kInk, 1);
  draw_text(image, x_title, {rect.x + rect.width / 2, rect.y + rect.height + 38},
            TextAlign::kCentre, 0.5, kInk);
  draw_vertical_text(image, y_title, {18, rect.y + rect.height / 2}, 0.5, kInk);
}

void draw_series(cv::Mat& image, const PlotArea& area, const std::vector<double>& xs,
                 const Series& series) {
  const cv::Scalar colour = to_scalar(series.colour);
  const std::vector<double>& values = series.values;
  const auto has_value = [&](size_t index) {
    return index < values.size() && std::isfinite(values[index]);
  };
  for (size_t index = 1; index < values.size(); ++index)
    if (has_value(index - 1) && has_value(index))
      cv::line(image, area.pixel(xs[index - 1], values[index - 1]),
               area.pixel(xs[index], values[index]), colour, 2, cv::LINE_AA);
  for (size_t index = 0; index < values.size(); ++index) {
    if (!has_value(index)) continue;
    const bool isolated = !(index > 0 && has_value(index - 1)) && !has_value(index + 1);
    if (values.size() <= kMaxMarkedPoints || isolated)
      cv::circle(image, area.pixel(xs[index], values[index]), 4, colour, cv::FILLED, cv::LINE_AA);
  }
}

// One row per series (a stroke with its marker, then the label); rows that do not fit become
// "+N more".
void draw_legend(cv::Mat& image, const cv::Rect& plot, const std::vector<Series>& series) {
  const size_t rows = static_cast<size_t>(plot.height / kLegendRowHeight);
  const size_t shown = series.size() <= rows ? series.size() : rows - 1;
  const int left = plot.x + plot.width + 16;
  int y = plot.y + kLegendRowHeight / 2;
  for (size_t index = 0; index < shown; ++index, y += kLegendRowHeight) {
    const cv::Scalar colour = to_scalar(series[index].colour);
    cv::line(image, {left, y}, {left + 26, y}, colour, 2, cv::LINE_AA);
    cv::circle(image, {left + 13, y}, 4, colour, cv::FILLED, cv::LINE_AA);
    draw_text(image, series[index].label, {left + 34, y}, TextAlign::kLeft, 0.5, kInk);
  }
  if (shown < series.size())
    draw_text(image, "+" + std::to_string(series.size() - shown) + " more", {left + 34, y},
              TextAlign::kLeft, 0.5, kGreyText);
}

void draw_panel(cv::Mat& image, int top, const Panel& panel) {
  const cv::Rect plot(kPlotLeft, top + kPlotTopInPanel, kPlotRight - kPlotLeft,
                      kPlotBottomInPanel - kPlotTopInPanel);
  draw_text(image, panel.heading, {kPlotLeft, top + 16}, TextAlign::kLeft, 0.55, kInk, 1);
  if (panel.series.empty()) {
    cv::rectangle(image, plot, kGridLine, 1);
    draw_text(image, panel.empty_note, {plot.x + plot.width / 2, plot.y + plot.height / 2},
              TextAlign::kCentre, 0.7, kGreyText);
    return;
  }
  const PlotArea area{plot, x_axis(panel), value_axis(panel)};
  draw_axes(image, area, panel.x_title, panel.y_title);
  for (const Series& series : panel.series) draw_series(image, area, panel.x, series);
  draw_legend(image, plot, panel.series);
}

void write_curves(const std::vector<nlohmann::json>& records, const std::string& source,
                  const std::string& png_path, const std::string& title) {
  const Curves curves = curves_from_records(records, source);
  write_panels_png(curves.panels, title, curves.summary, png_path);
}

}  // namespace

void write_panels_png(const std::vector<PlotPanel>& panels, const std::string& title,
                      const std::string& summary, const std::string& png_path) {
  const int height = kCurvesTitleBandHeight + static_cast<int>(panels.size()) * kCurvesPanelHeight;
  cv::Mat image(height, kCurvesWidth, CV_8UC3, kWhite);
  draw_text(image, title, {16, kCurvesTitleBandHeight / 2}, TextAlign::kLeft, 0.75, kInk, 2);
  draw_text(image, summary, {kCurvesWidth - 16, kCurvesTitleBandHeight / 2}, TextAlign::kRight, 0.5,
            kGreyText);
  for (size_t index = 0; index < panels.size(); ++index)
    draw_panel(image, kCurvesTitleBandHeight + static_cast<int>(index) * kCurvesPanelHeight,
               panels[index]);
  write_png(png_path, image);
}

BgrColour moe_layer_colour(size_t moe_layer_index) {
  return kPalette[moe_layer_index % std::size(kPalette)];
}

void write_curves_png(const std::vector<nlohmann::json>& records, const std::string& png_path,
                      const std::string& title) {
  write_curves(records, png_path, png_path, title);
}

std::string plot_run(const std::string& run_dir) {
  const std::filesystem::path run(run_dir);
  const std::string metrics_path = (run / "metrics.jsonl").string();
  const std::string png_path = (run / "curves.png").string();
  // The folder's own name, also for "runs/demo/" and "." (whose filename() is empty or ".").
  std::filesystem::path folder = std::filesystem::absolute(run).lexically_normal();
  if (folder.filename().empty()) folder = folder.parent_path();
  const std::string title = folder.filename().string();
  write_curves(read_json_lines(metrics_path), metrics_path, png_path, title);
  return png_path;
}

}  // namespace moevit
