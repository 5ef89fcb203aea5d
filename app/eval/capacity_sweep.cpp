#include "app/eval/capacity_sweep.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "app/eval/metrics_log.h"
#include "vit/vision_transformer.h"

namespace moevit {

std::vector<double> parse_capacity_sweep(const std::string& text) {
  const std::string prefix = "capacity=";
  const std::string expected =
      "expected capacity=F,F,... with factors >= 0 (e.g. capacity=0,0.25,0.5,1,1.25,2)";
  if (text.compare(0, prefix.size(), prefix) != 0)
    throw std::invalid_argument("--sweep: " + expected + ", got '" + text + "'");
  std::vector<double> factors;
  std::istringstream list(text.substr(prefix.size()));
  for (std::string item; std::getline(list, item, ',');) {
    char* end = nullptr;
    const double factor = std::strtod(item.c_str(), &end);
    if (item.empty() || *end != '\0' || !std::isfinite(factor) || factor < 0)
      throw std::invalid_argument("--sweep: " + expected + ", got '" + item + "' in '" + text +
                                  "'");
    factors.push_back(factor);
  }
  if (factors.empty()) throw std::invalid_argument("--sweep: " + expected + ", got '" + text + "'");
  return factors;
}

std::vector<SweepPoint> sweep_capacity(VisionTransformerImpl& model, ImageLoader& loader,
                                       const Runtime& runtime, const EvalOptions& options,
                                       const std::vector<double>& factors) {
  std::vector<MoeLayer> layers = model.moe_layers();  // set_eval_capacity_factor is not const
  std::vector<double> restore;
  for (const MoeLayer& layer : layers) restore.push_back(layer->options().eval_capacity_factor);
  std::vector<SweepPoint> points;
  for (double factor : factors) {
    model.set_eval_capacity_factor(factor);
    SweepPoint point;
    point.capacity_factor = factor;
    point.result = evaluate(model, loader, runtime, options);
    double reached = 0;
    for (const LayerRoutingStats& layer : point.result.routing)
      reached += layer.stats.reached_fraction();
    point.reached_fraction =
        point.result.routing.empty() ? 0.0 : reached / point.result.routing.size();
    points.push_back(std::move(point));
  }
  for (size_t index = 0; index < layers.size(); ++index)
    layers[index]->set_eval_capacity_factor(restore[index]);
  return points;
}

nlohmann::json sweep_json(const std::vector<SweepPoint>& points) {
  nlohmann::json out = {{"points", nlohmann::json::array()}};
  const SweepPoint* cut = nullptr;
  const SweepPoint* widest = nullptr;
  for (const SweepPoint& point : points) {
    nlohmann::json entry = eval_json(point.result);
    entry["capacity_factor"] = point.capacity_factor;
    entry["reached_fraction"] = point.reached_fraction;
    out["points"].push_back(entry);
    if (point.capacity_factor == 0) cut = &point;
    if (!widest || point.capacity_factor > widest->capacity_factor) widest = &point;
  }
  if (cut && widest && widest != cut) out["cut_cost_top1"] = widest->result.top1 - cut->result.top1;
  return out;
}

}  // namespace moevit
