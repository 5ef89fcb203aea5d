// eval --sweep capacity=0,0.25,0.5,1,1.25,2: one checkpoint evaluated at each eval capacity
// factor, to show how much its experts matter. 0 cuts the routed experts (every token rides
// the residual; shared experts stay); soft layers, which have no capacity, are cut at 0 and
// whole otherwise. Each point records the fraction of tokens that really reached an expert
// (capacity is at least one slot per expert per group, so small factors flatten out). Its
// figure is app/figures/sweep_figure.h.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "app/eval/evaluation.h"

namespace moevit {

class VisionTransformerImpl;
class ImageLoader;
struct Runtime;

struct SweepPoint {
  double capacity_factor = 0;
  EvalResult result;
  double reached_fraction = 0;  // mean over the MoE layers of the tokens that reached an expert
};

// "capacity=0,0.25,1" → {0, 0.25, 1}. Throws naming --sweep and what was expected.
std::vector<double> parse_capacity_sweep(const std::string& text);

// Evaluates at each factor in turn (the model's eval capacity factor is restored afterwards).
std::vector<SweepPoint> sweep_capacity(VisionTransformerImpl& model, ImageLoader& loader,
                                       const Runtime& runtime, const EvalOptions& options,
                                       const std::vector<double>& factors);

// {"checkpoint", "points": [{capacity_factor, top1, top5, loss, reached_fraction, routing,
// blocks}], "cut_cost_top1": top-1 at the largest factor − top-1 at 0 (when both were swept)}.
nlohmann::json sweep_json(const std::vector<SweepPoint>& points);

}  // namespace moevit
