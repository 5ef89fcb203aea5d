#include "app/figures/sweep_figure.h"

#include <algorithm>
#include <cstddef>
#include <cstdio>

#include "app/figures/curves.h"

namespace moevit {

void write_sweep_png(const std::vector<SweepPoint>& points, const std::string& title,
                     const std::string& png_path) {
  std::vector<SweepPoint> sorted = points;
  std::sort(sorted.begin(), sorted.end(), [](const SweepPoint& a, const SweepPoint& b) {
    return a.capacity_factor < b.capacity_factor;
  });
  PlotSeries top1{"val top-1", kValTop1Colour, {}};
  std::vector<double> factors, reached;
  for (const SweepPoint& point : sorted) {
    top1.values.push_back(100 * point.result.top1);
    factors.push_back(point.capacity_factor);
    reached.push_back(100 * point.reached_fraction);
  }
  PlotPanel by_capacity;
  by_capacity.heading = "Top-1 against the eval capacity factor (0 = routed experts cut)";
  by_capacity.y_title = "top-1 (%)";
  by_capacity.series = {top1};
  by_capacity.ceiling = 100;
  by_capacity.x = factors;
  by_capacity.x_title = "eval capacity factor";
  // Reached fractions rise with capacity; sort by them for a left-to-right line.
  std::vector<size_t> order(sorted.size());
  for (size_t index = 0; index < order.size(); ++index) order[index] = index;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return reached[a] < reached[b]; });
  PlotSeries top1_by_reach{"val top-1", kValTop1Colour, {}};
  PlotPanel by_reach = by_capacity;
  by_reach.heading = "Top-1 against the tokens that reached an expert (mean over MoE layers)";
  by_reach.x.clear();
  for (size_t index : order) {
    top1_by_reach.values.push_back(top1.values[index]);
    by_reach.x.push_back(reached[index]);
  }
  by_reach.series = {top1_by_reach};
  by_reach.x_title = "tokens that reached an expert (%)";
  char summary[128] = "";
  if (sorted.front().capacity_factor == 0 && sorted.size() > 1)
    std::snprintf(summary, sizeof summary, "cutting the experts costs %.2f points of top-1",
                  100 * (sorted.back().result.top1 - sorted.front().result.top1));
  write_panels_png({by_capacity, by_reach}, title, summary, png_path);
}

}  // namespace moevit
